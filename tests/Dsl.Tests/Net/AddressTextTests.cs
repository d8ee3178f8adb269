using System.Globalization;
using System.Linq;
using CsCheck;
using SwarmDsl.Net;
using Xunit;

namespace SwarmDsl.Tests;

/// <summary>Addresses print the way ip(8) and the kernel print them, and parse back to themselves.</summary>
public sealed class AddressTextTests
{
    [Theory]
    [InlineData(0u, "0.0.0.0")]
    [InlineData(0xFFFFFFFFu, "255.255.255.255")]
    [InlineData(0x0A07BF0Au, "10.7.191.10")]
    [InlineData(0x6400090Au, "100.0.9.10")]
    public void Ipv4_addresses_print_in_dotted_decimal(uint value, string text) =>
        Assert.Equal(text, new Ipv4Address(value).ToString());

    [Fact]
    public void Every_ipv4_address_prints_as_dotted_decimal_and_parses_back() =>
        Gen.UInt.Sample(v =>
        {
            var a = new Ipv4Address(v);
            var expected = string.Format(CultureInfo.InvariantCulture, "{0}.{1}.{2}.{3}", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
            return a.ToString() == expected && Ipv4Address.TryParse(expected, out var back) && back == a;
        });

    [Fact]
    public void Every_mac_address_prints_as_six_lower_case_hex_pairs_and_parses_back() =>
        Gen.ULong[0, 0xFFFF_FFFF_FFFFUL].Sample(v =>
        {
            var m = new MacAddress(v);
            var expected = string.Join(":", new[] { 40, 32, 24, 16, 8, 0 }.Select(s => ((v >> s) & 255).ToString("x2", CultureInfo.InvariantCulture)));
            return m.ToString() == expected && MacAddress.TryParse(expected, out var back) && back == m;
        });
}

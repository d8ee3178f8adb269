using System;
using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;

namespace SwarmDsl.Cli;

/// <summary>
/// Usage errors of numeric options in the tool's words: System.CommandLine says "as expected type
/// 'System.Nullable`1[System.Int32]'", which names .NET, not the values the option takes.
/// </summary>
internal static class NumberOptions
{
    private static readonly Regex Typed = new(
        @"^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']*)' as expected type '(System\.Nullable`1\[)?System\.(?<type>[A-Za-z0-9]+)(\[\])?\]?'\.?$",
        RegexOptions.CultureInvariant | RegexOptions.Singleline);

    /// <summary>
    /// <paramref name="message"/> in our words when it is the parser's refusal of a number ("--seed must be a whole number
    /// from 0 to 4294967295, not 'x'"); null for any other message.
    /// </summary>
    public static string? Readable(string message)
    {
        var m = Typed.Match(message.Trim());
        if (!m.Success) return null;
        var what = m.Groups["type"].Value switch
        {
            "Byte" => Whole(byte.MinValue, byte.MaxValue),
            // A signed option's own check names its range (--count 1 to 28232, --nodes 1 to 10000), not the type's.
            "Int16" or "Int32" or "Int64" => "a whole number",
            "UInt16" => Whole(ushort.MinValue, ushort.MaxValue),
            "UInt32" => Whole(uint.MinValue, uint.MaxValue),
            "UInt64" => "a whole number from 0 to " + ulong.MaxValue.ToString(CultureInfo.InvariantCulture),
            "Single" or "Double" or "Decimal" => "a number",
            _ => null,
        };
        return what is null ? null : $"{m.Groups["option"].Value} must be {what}, not '{m.Groups["value"].Value}'";
    }

    /// <summary>
    /// Restricts <paramref name="option"/> to whole numbers from <paramref name="min"/> to <paramref name="max"/>: a word,
    /// a range such as <c>0-3</c> or a number outside them is one usage error that names the bounds.
    /// </summary>
    public static Option<int?> Within(this Option<int?> option, int min, int max)
    {
        option.CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return n;
            result.AddError($"{option.Name} must be {Whole(min, max)}, not '{text}'");
            return null;
        };
        return option;
    }

    private static string Whole(long min, long max)
        => "a whole number from " + min.ToString(CultureInfo.InvariantCulture) + " to " + max.ToString(CultureInfo.InvariantCulture);
}

namespace SwarmDsl.Tests;

public class SmokeTests
{
    [Fact]
    public void Example_compiles_without_diagnostics()
    {
        var result = SwarmCompiler.Compile(Paths.Example, System.IO.File.ReadAllText(Paths.Example));
        Assert.Empty(result.Diagnostics);
        Assert.NotNull(result.Topology);
    }
}

using Manypaths.Config;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Config;

/// <summary>The shipped examples load, and the JSON Schema for editors agrees with them (python3-jsonschema).</summary>
public sealed class ExamplesAndSchemaTests
{
    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(Tool.RepoRoot, "examples"), "*.yaml"))
        {
            data.Add(Path.GetFileName(f));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_IsAValidConfig(string file)
    {
        var result = ConfigLoader.LoadFile(Path.Combine(Tool.RepoRoot, "examples", file));
        Assert.True(result.Ok, string.Join("\n", result.Errors));
    }

    [Fact]
    public async Task Schema_AcceptsTheExamples_AndRejectsTheBadCases()
    {
        var (exit, stdout, stderr) = await Tool.RunAsync("/usr/bin/python3", $"\"{Path.Combine(Tool.RepoRoot, "tests", "schema", "validate.py")}\"");
        Assert.True(exit == 0, stdout + stderr);
    }
}

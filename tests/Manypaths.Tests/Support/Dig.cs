namespace Manypaths.Tests.Support;

/// <summary>The real `dig` (Debian dnsutils) against a node: the answer section, status and flags.</summary>
internal static class Dig
{
    public sealed record Answer(string Status, string Flags, IReadOnlyList<string> Records, IReadOnlyList<string> Authority, string Raw)
    {
        /// <summary>The data of each answer record (the last field: an address, a name, "text").</summary>
        public IReadOnlyList<string> Values => Records.Select(r => r.Split('\t', ' ').Last(p => p.Length > 0)).ToList();
    }

    public static async Task<Answer> QueryAsync(int port, string name, string type = "A", string extra = "", string server = "127.0.0.1")
    {
        var (exit, stdout, stderr) = await Tool.RunAsync("dig", $"@{server} -p {port} +norec +time=2 +tries=1 {extra} {name} {type}");
        Assert.True(exit == 0, $"dig failed ({exit}): {stdout}{stderr}");
        var lines = stdout.Split('\n');
        var status = lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"status: (\w+)")).FirstOrDefault(m => m.Success)?.Groups[1].Value ?? "";
        var flags = lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, @";; flags: ([^;]*);")).FirstOrDefault(m => m.Success)?.Groups[1].Value ?? "";
        return new Answer(status, flags, Section(lines, "ANSWER"), Section(lines, "AUTHORITY"), stdout);
    }

    private static List<string> Section(string[] lines, string name)
    {
        var start = Array.FindIndex(lines, l => l.StartsWith($";; {name} SECTION:", StringComparison.Ordinal));
        return start < 0 ? [] : lines.Skip(start + 1).TakeWhile(l => l.Trim().Length > 0).ToList();
    }
}

using Manypaths.Config;
using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.Config;

/// <summary>
/// Truncated and mutated copies of the shipped examples: whatever the file holds, loading it gives a config or
/// positioned errors, never an exception (which would crash 'check' with a stack trace, or end a reload silently).
/// </summary>
[Collection(Heavy.Name)] // seconds of CPU: not beside the timing-sensitive tests
public sealed class ConfigFuzzTests(ITestOutputHelper output)
{
    private const int MutationsPerExample = 3000;

    /// <summary>Tokens that YAML gives meaning to, plus ones that have tripped readers before.</summary>
    private static readonly string[] Palette =
    [
        "[", "]", "{", "}", ":", ": ", "- ", ",", "\"", "'", "#", "&a ", "*a", "!!str ", "|", ">", "\t", "\n", "\r\n", " ", "  ",
        "?", "%YAML 1.2\n", "---\n", "...\n", "~", "null", "0x10", "1e309", "99999999999999999999", "-1", "\\", "\u00e9", "\0",
        "@", "`", "<<: *a", "[[[[[[[[", "{a: {b: {c: ", "127.0.0.1:0", "http://", "-2s", "1y", new string('[', 200), string.Concat(Enumerable.Repeat("{a: ", 100)),
    ];

    [Fact]
    public void Examples_TruncatedAnywhere_OrMutated_NeverThrow_AndEveryErrorHasAPosition()
    {
        var seed = Environment.GetEnvironmentVariable("MANYPATHS_FUZZ_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : 20261202;
        var random = new Random(seed);
        var dir = Path.Combine(Tool.RepoRoot, "examples");
        int truncated = 0, mutated = 0, rejected = 0;
        foreach (var file in Directory.GetFiles(dir, "*.yaml").Order(StringComparer.Ordinal))
        {
            var text = File.ReadAllText(file);
            var path = Path.Combine(dir, "fuzz-" + Path.GetFileName(file));
            for (var length = 0; length < text.Length; length++)
            {
                rejected += Check(text[..length], path);
                truncated++;
            }

            for (var i = 0; i < MutationsPerExample; i++)
            {
                rejected += Check(Mutate(text, random), path);
                mutated++;
            }
        }

        output.WriteLine($"[report] config fuzz: {truncated + mutated:N0} inputs ({truncated:N0} truncated, {mutated:N0} mutated, seed {seed}); {rejected:N0} rejected with positioned errors, 0 exceptions escaped");
        Assert.True(truncated + mutated > 5000);
    }

    /// <summary>1 when the text was rejected, 0 when it loaded; fails the test on an escaped exception.</summary>
    private static int Check(string text, string path)
    {
        ConfigLoadResult result;
        try
        {
            result = ConfigLoader.Load(text, path);
        }
        catch (Exception e)
        {
            Assert.Fail($"Loading threw {e.GetType().Name}: {e.Message}\n--- input ---\n{text}");
            throw;
        }

        var lines = text.Count(c => c == '\n') + 2;
        foreach (var error in result.Errors.Concat(result.Warnings))
        {
            Assert.False(error.Message.StartsWith(ConfigLoader.InternalErrorPrefix, StringComparison.Ordinal), $"{error}\n--- input ---\n{text}");
            Assert.InRange(error.Line, 1, lines);
            Assert.True(error.Column >= 1, error.ToString());
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
        }

        Assert.Equal(result.Config is null, result.Errors.Count > 0);
        return result.Ok ? 0 : 1;
    }

    private static string Mutate(string text, Random random)
    {
        var edits = random.Next(1, 4);
        for (var e = 0; e < edits && text.Length > 0; e++)
        {
            var at = random.Next(text.Length);
            switch (random.Next(7))
            {
                case 6: // wrap a word: a scalar becomes a list, a mapping or a quoted string (keys too)
                    var start = at;
                    while (start > 0 && char.IsLetterOrDigit(text[start - 1]))
                    {
                        start--;
                    }

                    var end = at;
                    while (end < text.Length && char.IsLetterOrDigit(text[end]))
                    {
                        end++;
                    }

                    var word = text[start..end];
                    var wrapped = random.Next(4) switch { 0 => $"[{word}]", 1 => $"{{{word}: 1}}", 2 => $"\"{word}\"", _ => $"[{word}, {word}]" };
                    text = text[..start] + wrapped + text[end..];
                    break;
                case 0: // delete a short run
                    text = text.Remove(at, Math.Min(random.Next(1, 12), text.Length - at));
                    break;
                case 1: // insert a token
                    text = text.Insert(at, Palette[random.Next(Palette.Length)]);
                    break;
                case 2: // replace one character with a token
                    text = text.Remove(at, 1).Insert(at, Palette[random.Next(Palette.Length)]);
                    break;
                case 3: // duplicate a line (duplicate keys, repeated services)
                    var lines = text.Split('\n').ToList();
                    var l = random.Next(lines.Count);
                    lines.Insert(l, lines[l]);
                    text = string.Join('\n', lines);
                    break;
                case 4: // shift a line's indentation
                    var ls = text.Split('\n');
                    var k = random.Next(ls.Length);
                    ls[k] = random.Next(2) == 0 ? "  " + ls[k] : ls[k].TrimStart();
                    text = string.Join('\n', ls);
                    break;
                default: // a random character
                    text = text.Insert(at, ((char)random.Next(1, 0x250)).ToString());
                    break;
            }
        }

        return text;
    }
}

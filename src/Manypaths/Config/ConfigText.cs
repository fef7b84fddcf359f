using System.Text;

namespace Manypaths.Config;

/// <summary>
/// Turns the bytes of a config file into text: UTF-8 only (a byte order mark of UTF-16 or UTF-32, or a byte that is
/// not UTF-8, is named with its line and column), and no larger than <see cref="MaxBytes"/>.
/// </summary>
internal static class ConfigText
{
    /// <summary>
    /// The largest config file read. Reading is linear in size (docs/design/config.md has the figures); a file
    /// this big is already ~100,000 services, so anything larger is a mistake (a log or a binary named by --config).
    /// </summary>
    public const int MaxBytes = 32 * 1024 * 1024;

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string? Decode(ReadOnlySpan<byte> bytes, ConfigErrors errors)
    {
        if (bytes.Length > MaxBytes)
        {
            errors.Add(YamlDotNet.Core.Mark.Empty, $"The config file is too large: {bytes.Length:N0} bytes, where at most {MaxBytes:N0} are read.");
            return null;
        }

        if (ForeignBom(bytes) is { } encoding)
        {
            errors.Add(YamlDotNet.Core.Mark.Empty, $"The config file is {encoding} (it starts with a {encoding} byte order mark), not UTF-8: save it as UTF-8.");
            return null;
        }

        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            bytes = bytes[3..];
        }

        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            var (line, column) = FirstInvalid(bytes);
            errors.Add(line, column, "The config file is not UTF-8: this byte is not valid UTF-8. Save the file as UTF-8.");
            return null;
        }
    }

    private static string? ForeignBom(ReadOnlySpan<byte> b) =>
        b.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0x00, 0x00]) || b.StartsWith((ReadOnlySpan<byte>)[0x00, 0x00, 0xFE, 0xFF]) ? "UTF-32"
        : b.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || b.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]) ? "UTF-16"
        : null;

    /// <summary>Line and column (in characters) of the first byte that does not start a valid UTF-8 sequence.</summary>
    private static (int Line, int Column) FirstInvalid(ReadOnlySpan<byte> bytes)
    {
        int line = 1, column = 1, i = 0;
        while (i < bytes.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes[i..], out var rune, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                return (line, column);
            }

            if (rune.Value == '\n')
            {
                line++;
                column = 1;
            }
            else
            {
                column++;
            }

            i += consumed;
        }

        return (line, column);
    }
}

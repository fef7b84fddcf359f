using System.Security.Cryptography;
using System.Text;

namespace Manypaths.Config;

/// <summary>
/// The admin bearer token, read from cluster.admin_token_file when the config is loaded (surrounding whitespace
/// trimmed once, there), so a new token takes a reload (SIGHUP). It never prints: ToString is redacted, so a config
/// record in a log shows no secret.
/// </summary>
public sealed class AdminToken
{
    private readonly byte[] _utf8;
    private readonly byte[] _digest;

    private AdminToken(string token)
    {
        _utf8 = Encoding.UTF8.GetBytes(token);
        _digest = SHA256.HashData(_utf8);
    }

    /// <summary>The token, or null with a reason when the file cannot be read or holds only whitespace.</summary>
    public static AdminToken? Read(string file, out string? problem)
    {
        problem = null;
        string text;
        try
        {
            text = File.ReadAllText(file).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"The admin token file cannot be read: {e.Message}";
            return null;
        }

        if (text.Length == 0)
        {
            problem = "The admin token file is empty: put a long random token in it (e.g. openssl rand -hex 32).";
            return null;
        }

        return new AdminToken(text);
    }

    /// <summary>
    /// Compares SHA-256 digests in constant time: a wrong guess tells nothing of the token, not even its length.
    /// </summary>
    public bool Matches(ReadOnlySpan<char> given)
    {
        var bytes = Encoding.UTF8.GetBytes(given.ToArray());
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(bytes), _digest);
    }

    /// <summary>For the CLI, which sends it in the Authorization header; never for logs or pages.</summary>
    public string Reveal() => Encoding.UTF8.GetString(_utf8);

    public override string ToString() => "(admin token)";
}

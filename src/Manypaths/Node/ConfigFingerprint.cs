using System.Security.Cryptography;
using Manypaths.Config;

namespace Manypaths.Node;

/// <summary>
/// What a reload would read: the config file and every file it names (peer secret, admin token, sorry pages). Two
/// equal fingerprints mean a reload would change nothing, so a SIGHUP or a touched file keeps the live generation.
/// A file that cannot be read counts as its absence (the reload then says what is wrong with it).
/// </summary>
internal static class ConfigFingerprint
{
    public static string Of(ManypathsConfig config)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var files = new List<string?> { config.SourcePath, config.Cluster.SecretFile, config.Cluster.AdminTokenFile };
        files.AddRange(config.Services.Values.Select(s => s.Sorry.File));
        foreach (var file in files.OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(file + "\0"));
            try
            {
                hash.AppendData(File.ReadAllBytes(file));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                hash.AppendData("(unreadable)"u8);
            }

            hash.AppendData("\0"u8);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }
}

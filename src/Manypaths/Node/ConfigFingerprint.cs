using System.Security.Cryptography;
using Manypaths.Config;

namespace Manypaths.Node;

/// <summary>
/// What a reload would read: the config file's bytes (as the loader read them) and every file the config names
/// (peer secret, admin token, sorry pages). Equal fingerprints mean a reload would change nothing, so a SIGHUP or a
/// touched file keeps the live generation. The named files are hashed before the new config is loaded, using the
/// live config's list: a change made while a reload runs then only causes one more reload later, never a skipped
/// one. A file that cannot be read counts as its absence (the reload says what is wrong with it).
/// </summary>
internal static class ConfigFingerprint
{
    /// <summary>The files a config names, whose contents matter to a reload.</summary>
    public static IReadOnlyList<string> NamedFiles(ManypathsConfig config)
    {
        var files = new List<string?> { config.Cluster.SecretFile, config.Cluster.AdminTokenFile };
        files.AddRange(config.Services.Values.Select(s => s.Sorry.File));
        files.AddRange(config.Services.Values.Select(s => s.Health.PasswordFile));
        files.AddRange(config.Services.Values.Select(s => s.Tcp.Sentinels?.PasswordFile));
        files.AddRange(config.Alerts.Webhooks.Select(w => w.UrlFile));
        return files.OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>A hash of the named files' contents as they are now.</summary>
    public static string OfFiles(IEnumerable<string> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
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

    public static string Combine(string configHash, string filesHash) => configHash + ":" + filesHash;
}

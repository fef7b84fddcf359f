using System.Security.Cryptography;
using System.Text;

namespace Manypaths.Mesh;

/// <summary>
/// HMAC-SHA256 with the cluster secret. The first line of the secret file signs; every line verifies, so a secret
/// can be rotated without a flag day: add the new secret as a second line everywhere, then make it the first,
/// then drop the old one, reloading (SIGHUP) the nodes after each step.
/// </summary>
internal sealed class PeerSigner
{
    private volatile byte[][] _keys;

    public PeerSigner(IEnumerable<string> secrets) => _keys = Keys(secrets);

    public static PeerSigner FromFile(string path) => new(File.ReadAllLines(path));

    /// <summary>Reads a secret file's keys; throws when it is empty or unreadable. <see cref="Use"/> makes them live.</summary>
    public static byte[][] ReadKeys(string path) => Keys(File.ReadAllLines(path));

    public void Use(byte[][] keys) => _keys = keys;

    private static byte[][] Keys(IEnumerable<string> secrets)
    {
        var keys = secrets.Where(s => s.Trim().Length > 0).Select(s => Encoding.UTF8.GetBytes(s.Trim())).ToArray();
        return keys.Length > 0 ? keys : throw new InvalidOperationException("The cluster secret file is empty.");
    }

    public byte[] Sign(ReadOnlySpan<byte> data) => HMACSHA256.HashData(_keys[0], data);

    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        Span<byte> mac = stackalloc byte[32];
        foreach (var key in _keys)
        {
            HMACSHA256.HashData(key, data, mac);
            if (signature.Length == 32 && CryptographicOperations.FixedTimeEquals(mac, signature))
            {
                return true;
            }
        }

        return false;
    }

    public string SignText(string canonical) => Convert.ToBase64String(Sign(Encoding.UTF8.GetBytes(canonical)));

    public bool VerifyText(string canonical, string signature)
    {
        Span<byte> given = stackalloc byte[32];
        return Convert.TryFromBase64String(signature, given, out var n) && n == 32 && Verify(Encoding.UTF8.GetBytes(canonical), given);
    }
}

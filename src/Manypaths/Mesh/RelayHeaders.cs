using System.Globalization;
using System.Security.Cryptography;

namespace Manypaths.Mesh;

/// <summary>The signed headers of a relay request, and the canonical text both sides sign.</summary>
internal static class RelayHeaders
{
    public const string PathPrefix = "/_mesh/relay/";

    /// <summary>Where a peer asks for this node's own incidents (signed like a relay request).</summary>
    public const string IncidentsPath = "/_mesh/incidents";

    /// <summary>A peer's standby warm-up: /_mesh/warm/{service}/{upstream}. This node GETs that upstream's health path
    /// over its own pool, outside the attempt loop (no health, latency or request figure), and answers 204 or 502.</summary>
    public const string WarmPrefix = "/_mesh/warm/";

    /// <summary>On a warm answer: how many of the GETs asked for succeeded.</summary>
    public const string Warmed = "X-Manypaths-Warmed";
    public const string From = "X-Manypaths-From";
    public const string Time = "X-Manypaths-Time";
    public const string Nonce = "X-Manypaths-Nonce";
    public const string Hops = "X-Manypaths-Hops";
    public const string Chain = "X-Manypaths-Chain";
    public const string Signature = "X-Manypaths-Signature";

    /// <summary>On a relay's 502: the relay could not reach the upstream at all (the request never left it).</summary>
    public const string Unreached = "X-Manypaths-Unreached";

    public static string Canonical(string method, string target, string from, string time, string nonce, string hops, string chain, long? contentLength) =>
        string.Join('\n', method.ToUpperInvariant(), target, from, time, nonce, hops, chain, contentLength?.ToString(CultureInfo.InvariantCulture) ?? "-");

    public static void Sign(HttpRequestMessage request, PeerSigner signer, string self, int hopsLeft, string chain, TimeProvider clock)
    {
        foreach (var h in new[] { From, Time, Nonce, Hops, Chain, Signature })
        {
            request.Headers.Remove(h);
        }

        foreach (var (name, value) in Signed(request.Method.Method, request.RequestUri!.PathAndQuery, request.Content?.Headers.ContentLength, signer, self, hopsLeft, chain, clock))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
    }

    /// <summary>The signed mesh headers of one relay request (a relayed TCP tunnel writes them itself).</summary>
    public static IReadOnlyList<(string Name, string Value)> Signed(string method, string target, long? contentLength, PeerSigner signer, string self, int hopsLeft, string chain, TimeProvider clock)
    {
        var time = clock.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var nonce = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        var hops = hopsLeft.ToString(CultureInfo.InvariantCulture);
        var newChain = chain.Length == 0 ? self : $"{chain},{self}";
        var canonical = Canonical(method, target, self, time, nonce, hops, newChain, contentLength);
        return [(From, self), (Time, time), (Nonce, nonce), (Hops, hops), (Chain, newChain), (Signature, signer.SignText(canonical))];
    }
}

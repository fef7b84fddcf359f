using System.Globalization;
using System.Security.Cryptography;

namespace Manypaths.Mesh;

/// <summary>The signed headers of a relay request, and the canonical text both sides sign.</summary>
internal static class RelayHeaders
{
    public const string PathPrefix = "/_mesh/relay/";
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
        var time = clock.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var nonce = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        var hops = hopsLeft.ToString(CultureInfo.InvariantCulture);
        var newChain = chain.Length == 0 ? self : $"{chain},{self}";
        var target = request.RequestUri!.PathAndQuery;
        var canonical = Canonical(request.Method.Method, target, self, time, nonce, hops, newChain, request.Content?.Headers.ContentLength);
        foreach (var h in new[] { From, Time, Nonce, Hops, Chain, Signature })
        {
            request.Headers.Remove(h);
        }

        request.Headers.TryAddWithoutValidation(From, self);
        request.Headers.TryAddWithoutValidation(Time, time);
        request.Headers.TryAddWithoutValidation(Nonce, nonce);
        request.Headers.TryAddWithoutValidation(Hops, hops);
        request.Headers.TryAddWithoutValidation(Chain, newChain);
        request.Headers.TryAddWithoutValidation(Signature, signer.SignText(canonical));
    }
}

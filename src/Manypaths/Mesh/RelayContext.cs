namespace Manypaths.Mesh;

/// <summary>What the path invoker needs to send a request through a peer.</summary>
internal sealed record RelayContext(string Self, RelayPaths Paths, PeerSigner Signer, MeshOptions Options, TimeProvider Time);

namespace Manypaths.Mesh;

/// <summary>What the path invoker needs to send a request through a peer: who we are, how to sign, how many hops.</summary>
internal sealed record RelayContext(string Self, PeerSigner Signer, MeshOptions Options, TimeProvider Time);

namespace Manypaths.Mesh;

/// <summary>One node's measurement of its link to one peer, as carried in its heartbeats for the link matrix.</summary>
public readonly record struct LinkReport(string Peer, LinkState State, float RttMs, float Loss);

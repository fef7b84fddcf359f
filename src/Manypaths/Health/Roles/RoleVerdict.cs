namespace Manypaths.Health.Roles;

/// <summary>One upstream's role as the board last judged it, for status, metrics and <c>manypaths status</c>.</summary>
/// <param name="LagBytes">A replica's bytes behind the primary, when both histories match.</param>
internal sealed record RoleVerdict(ServerRole Role, bool Fit, string Why, long? LagBytes, DateTimeOffset At);

namespace Manypaths.Health;

public readonly record struct HealthTransition(HealthState From, HealthState To, string Reason, DateTimeOffset At);

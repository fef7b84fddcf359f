using System.Globalization;
using System.Net;
using System.Text.Json;
using Manypaths.Config;
using Manypaths.Maintenance;
using Microsoft.AspNetCore.Http;

namespace Manypaths.Proxy;

/// <summary>
/// What a client sees when a service cannot be served: 503 with Retry-After (HTML for browsers, JSON for APIs,
/// nothing for HEAD), or an instant redirect to another site when configured.
/// </summary>
internal static class SorryPage
{
    public static async Task WriteAsync(HttpContext context, ServiceOptions service, string reason, MaintenanceInfo? maintenance, TimeProvider time)
    {
        var response = context.Response;
        response.Clear();
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Manypaths-Reason"] = reason;
        if (service.Sorry.Redirect is { } redirect)
        {
            response.StatusCode = StatusCodes.Status302Found;
            response.Headers.Location = redirect.ToString();
            return;
        }

        var retryAfter = service.Sorry.RetryAfter;
        if (maintenance?.Until is { } until)
        {
            var left = until - time.GetUtcNow();
            retryAfter = left > TimeSpan.Zero ? left : TimeSpan.FromSeconds(1);
        }

        response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        response.Headers.RetryAfter = ((long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        var message = maintenance?.Message ?? (maintenance is not null ? "This service is under maintenance." : "This service is temporarily unavailable.");
        if (WantsJson(context.Request))
        {
            response.ContentType = "application/json; charset=utf-8";
            await JsonSerializer.SerializeAsync(response.Body, new SorryBody("service_unavailable", service.Name, reason, message, (long)Math.Ceiling(retryAfter.TotalSeconds)),
                SorryJsonContext.Default.SorryBody, context.RequestAborted);
            return;
        }

        response.ContentType = "text/html; charset=utf-8";
        var html = service.Sorry.File is { } file && File.Exists(file)
            ? await File.ReadAllTextAsync(file, context.RequestAborted)
            : BuiltIn(service.Name, message);
        await response.WriteAsync(html, context.RequestAborted);
    }

    private static bool WantsJson(HttpRequest request)
    {
        var accept = request.Headers.Accept.ToString();
        return accept.Contains("application/json", StringComparison.OrdinalIgnoreCase) && !accept.Contains("text/html", StringComparison.OrdinalIgnoreCase);
    }

    private static string BuiltIn(string service, string message) => $"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>{WebUtility.HtmlEncode(service)}: temporarily unavailable</title>
        <style>body{"{"}font-family:system-ui,sans-serif;max-width:36rem;margin:5rem auto;padding:0 1rem;color:#222{"}"}</style></head>
        <body><h1>We'll be right back</h1><p>{WebUtility.HtmlEncode(message)}</p><p>Please try again in a little while.</p></body></html>
        """;
}

internal sealed record SorryBody(string Error, string Service, string Reason, string Message, long RetryAfterSeconds);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(SorryBody))]
internal sealed partial class SorryJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

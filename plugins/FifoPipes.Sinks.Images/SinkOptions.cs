using FifoPipes.Abstractions;

namespace FifoPipes.Sinks.Images;

/// <summary>Options as the host hands them over: null means defaults; problems become one clear error.</summary>
internal static class SinkOptions
{
    public const string InvalidErrorId = "SinkOptionInvalid";

    public static T Bind<T>(object? options, string sinkName) where T : class, new()
    {
        var bound = PluginOptions.As<T>(options, $"{sinkName} sink");
        if (bound is IValidatableOptions validatable)
        {
            var problems = validatable.Validate().ToList();
            if (problems.Count > 0)
                throw new FifoInputException(InvalidErrorId,
                    $"The {sinkName} sink options are invalid: " + string.Join(" ", problems.Select(p => p.Message)));
        }
        return bound;
    }
}

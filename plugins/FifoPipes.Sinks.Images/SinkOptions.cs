using FifoPipes.Abstractions;

namespace FifoPipes.Sinks.Images;

/// <summary>Options as the host hands them over: null means defaults; problems become one clear error.</summary>
internal static class SinkOptions
{
    public const string InvalidErrorId = "SinkOptionInvalid";

    public static T Bind<T>(object? options, string sinkName) where T : class, new()
    {
        var bound = options switch
        {
            null => new T(),
            T typed => typed,
            _ => throw new ArgumentException($"The {sinkName} sink takes {typeof(T).Name}, got {options.GetType().Name}.", nameof(options)),
        };
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

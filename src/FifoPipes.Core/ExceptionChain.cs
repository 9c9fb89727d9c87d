namespace FifoPipes.Core;

/// <summary>libtorch errors arrive as plain exceptions carrying its message, often wrapped; these read them.</summary>
public static class ExceptionChain
{
    /// <summary>Whether <paramref name="error"/>, an exception inside it, or one inside an aggregate among them matches.</summary>
    public static bool Any(Exception? error, Func<Exception, bool> match)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (match(e)) return true;
            if (e is AggregateException aggregate && aggregate.InnerExceptions.Any(inner => Any(inner, match))) return true;
        }
        return false;
    }

    /// <summary>The first line of an error's message: libtorch appends a C++ stack trace after it.</summary>
    public static string FirstLine(Exception error) => error.Message.Split('\n', 2)[0].Trim();
}

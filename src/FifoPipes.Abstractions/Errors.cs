namespace FifoPipes.Abstractions;

/// <summary>
/// An error caused by the user's input (recipe, file, option, checkpoint) rather than a bug. The
/// message names the thing and the fix; <see cref="ErrorId"/> is stable so scripts can match it.
/// </summary>
public class FifoInputException : Exception
{
    /// <param name="errorId">A stable name (CheckpointNotFound): PowerShell's FullyQualifiedErrorId, and its error category by the words in it.</param>
    /// <param name="message">What is wrong, naming the thing, and the fix.</param>
    public FifoInputException(string errorId, string message, Exception? inner = null) : base(message, inner) => ErrorId = errorId;

    /// <summary>The stable name of this kind of mistake, for scripts to match.</summary>
    public string ErrorId { get; }

    /// <summary>
    /// The plugin option the mistake is in, by its recipe name ("partitions"), where it is one: Test-FifoRecipe points at
    /// the recipe line that sets it. Null for a mistake of no single option. Contracts 1.11.
    /// </summary>
    public string? Option { get; init; }
}

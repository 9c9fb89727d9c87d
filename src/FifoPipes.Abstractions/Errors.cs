namespace FifoPipes.Abstractions;

/// <summary>
/// An error caused by the user's input (recipe, file, option, checkpoint) rather than a bug. The
/// message names the thing and the fix; <see cref="ErrorId"/> is stable so scripts can match it.
/// </summary>
public class FifoInputException : Exception
{
    public FifoInputException(string errorId, string message, Exception? inner = null) : base(message, inner) => ErrorId = errorId;
    public string ErrorId { get; }
}

using FifoPipes.Abstractions;

namespace FifoPipes.Core.Sinks;

/// <summary>The file rules every sink shares: never replace a file without -Force, create folders on demand.</summary>
public static class SinkFiles
{
    public const string OutputExistsErrorId = "SinkOutputExists";
    public const string OutputIsFolderErrorId = "SinkOutputIsFolder";

    /// <summary>
    /// Checked when a sink is created, so a run fails before any frame is computed rather than after
    /// the first one is finished.
    /// </summary>
    public static void EnsureWritable(string path, bool overwrite)
    {
        if (Directory.Exists(path))
            throw new FifoInputException(OutputIsFolderErrorId,
                $"The sink output '{path}' is a folder. Give the path of a file inside it instead.");
        if (!overwrite && File.Exists(path))
            throw OutputExists(path);
    }

    public static FifoInputException OutputExists(string path, string? detail = null) =>
        new(OutputExistsErrorId,
            $"The sink output '{path}' already exists{detail}. Use -Force (overwrite: true in a recipe) to replace it, or choose another path.");

    public static void CreateParentFolder(string path)
    {
        var folder = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
    }

    /// <summary>
    /// Opens <paramref name="path"/> for writing. Without <paramref name="overwrite"/> the open itself
    /// refuses an existing file, so one that appeared after <see cref="EnsureWritable"/> is not lost either.
    /// </summary>
    public static FileStream OpenForWriting(string path, bool overwrite)
    {
        CreateParentFolder(path);
        try
        {
            return new FileStream(path, overwrite ? FileMode.Create : FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            throw OutputExists(path);
        }
    }
}

namespace Ghost;

public static class GhostType
{
    public static string Name => "ghost";
}

namespace FifoPipes.Sinks.Ffmpeg; internal static class Placeholder { }

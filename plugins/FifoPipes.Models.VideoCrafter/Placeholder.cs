namespace FifoPipes.Models.VideoCrafter; internal static class Placeholder { }

using FifoPipes.Models.Analytic;
using Xunit;

namespace FifoPipes.Tests.Analytic;

public sealed class PromptMappingTests
{
    [Fact]
    public void The_same_prompt_always_gives_the_same_parameters()
    {
        var a = PromptMapping.FromPrompt("A golden nebula swirling slowly, cinematic", 4);
        var b = PromptMapping.FromPrompt("A golden nebula swirling slowly, cinematic", 4);
        Assert.Equal(a.Fingerprint, b.Fingerprint);
        Assert.Equal(a.Palette, b.Palette);
        Assert.Equal(a.Offset, b.Offset);
    }

    [Fact]
    public void The_stable_hash_is_fnv1a_64()
    {
        // Published FNV-1a 64 test vectors: the look of a prompt must not change between processes or versions.
        Assert.Equal(0xcbf29ce484222325UL, PromptMapping.Fnv1a(""));
        Assert.Equal(0xaf63dc4c8601ec8cUL, PromptMapping.Fnv1a("a"));
        Assert.Equal(0x85944171f73967e8UL, PromptMapping.Fnv1a("foobar"));
    }

    [Theory]
    [InlineData("fire", "clouds")]
    [InlineData("fire", "fire at dusk")]
    [InlineData("ocean waves", "ocean waves at night")]
    [InlineData("a cat", "a dog")]
    [InlineData("red smoke", "blue smoke")]
    public void Different_prompts_look_different(string first, string second)
    {
        var a = PromptMapping.FromPrompt(first, 4);
        var b = PromptMapping.FromPrompt(second, 4);
        Assert.False(a.Fingerprint == b.Fingerprint && a.Palette.Cast<double>().SequenceEqual(b.Palette.Cast<double>()) && a.Offset.SequenceEqual(b.Offset),
            $"'{first}' and '{second}' map to identical parameters");
    }

    [Fact]
    public void The_empty_prompt_is_the_neutral_still_prior()
    {
        var empty = PromptMapping.FromPrompt("", 4);
        Assert.Equal(PromptMapping.Neutral(4).Fingerprint, empty.Fingerprint);
        Assert.Equal(0.0, empty.VelocityX);
        Assert.Equal(0.0, empty.VelocityY);
        Assert.Equal(PromptMapping.Neutral(4).Fingerprint, PromptMapping.FromPrompt("  ,. ", 4).Fingerprint);
        // Symbols are a prompt: each gets a look of its own.
        var fire = PromptMapping.FromPrompt("🔥🔥", 4);
        Assert.NotEqual(PromptMapping.Neutral(4).Fingerprint, fire.Fingerprint);
        Assert.NotEqual(fire.Fingerprint, PromptMapping.FromPrompt("🌊", 4).Fingerprint);
    }

    [Fact]
    public void A_repeated_speed_word_counts_once()
    {
        var once = PromptMapping.FromPrompt("fast fire", 4);
        var many = PromptMapping.FromPrompt(string.Join(' ', Enumerable.Repeat("fast", 900)) + " fire", 4);
        Assert.Equal(once.VelocityX, many.VelocityX, 12);
        Assert.Equal(once.T0, many.T0, 12);
        Assert.True(double.IsFinite(PromptMapping.FromPrompt(string.Join(' ', Enumerable.Repeat("frozen", 600)), 4).T0));
    }

    [Fact]
    public void Direction_and_speed_words_steer_the_drift()
    {
        var left = PromptMapping.FromPrompt("clouds drifting left", 4);
        var right = PromptMapping.FromPrompt("clouds drifting right", 4);
        var up = PromptMapping.FromPrompt("smoke rising up", 4);
        var still = PromptMapping.FromPrompt("still water", 4);
        var slow = PromptMapping.FromPrompt("slow fire", 4);
        var fast = PromptMapping.FromPrompt("fast fire", 4);
        Assert.True(left.VelocityX < 0 && Math.Abs(left.VelocityY) < 1e-9, $"left: {left}");
        Assert.True(right.VelocityX > 0 && Math.Abs(right.VelocityY) < 1e-9, $"right: {right}");
        Assert.True(up.VelocityY < 0 && Math.Abs(up.VelocityX) < 1e-9, $"up: {up}");
        Assert.Equal(0.0, Math.Abs(still.VelocityX) + Math.Abs(still.VelocityY), 12);
        Assert.True(Speed(fast) > 3 * Speed(slow), $"fast {Speed(fast)} vs slow {Speed(slow)}");
        Assert.True(fast.T0 < slow.T0);
    }

    [Fact]
    public void Textures_and_colours_steer_the_look()
    {
        var fire = PromptMapping.FromPrompt("fire", 4);
        var ocean = PromptMapping.FromPrompt("ocean", 4);
        Assert.True(fire.Offset[0] > fire.Offset[2], "fire should be warm (red above blue)");
        Assert.True(ocean.Offset[2] > ocean.Offset[0], "the ocean should be cool (blue above red)");
        var green = PromptMapping.FromPrompt("green smoke", 4);
        var plain = PromptMapping.FromPrompt("smoke", 4);
        Assert.True(green.Offset[1] - green.Offset[0] > plain.Offset[1] - plain.Offset[0], "'green' should push the colour toward green");
    }

    [Fact]
    public void Any_channel_count_gets_a_full_palette()
    {
        foreach (int channels in new[] { 1, 3, 4, 7 })
        {
            var p = PromptMapping.FromPrompt("aurora over the sea", channels);
            Assert.Equal(channels, p.Channels);
            Assert.Equal(3, p.Palette.GetLength(0));
            Assert.Equal(channels, p.Palette.GetLength(1));
        }
    }

    static double Speed(PromptParameters p) => Math.Sqrt(p.VelocityX * p.VelocityX + p.VelocityY * p.VelocityY);
}

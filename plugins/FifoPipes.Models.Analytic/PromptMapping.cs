using System.Text;

namespace FifoPipes.Models.Analytic;

/// <summary>
/// Prompt to prior parameters, deterministically. Known words steer (a texture sets the spectrum,
/// persistence, drift and colours; colour words recolour; direction and speed words set the motion);
/// the remaining words perturb everything a little through a stable hash (FNV-1a, not
/// string.GetHashCode, which changes between processes), so every prompt keeps its own look.
/// </summary>
public static class PromptMapping
{
    /// <summary>
    /// The unconditional prior used for guidance: still, grey, and broad (1.5x the channel sigmas, a
    /// flatter spectrum, little temporal memory), so that eps_u + w (eps_c - eps_u) with w &gt; 1 narrows
    /// toward the prompt's prior instead of extrapolating past it. Measured with 50-step DDIM on 16
    /// frames: at w = 1.5 the output std stays within about 20% of sigma for fire, clouds, nebula and
    /// ocean; at w = 3 persistent textures (clouds, nebula) already blow up (std 3x): keep w small.
    /// </summary>
    public static PromptParameters Neutral(int channels)
    {
        var sigma = BaseSigma(channels, null).Select(s => s * NeutralBreadth).ToArray();
        return new PromptParameters(sigma, beta: 2.0, k0: 0.06, t0: 2.0, velocityY: 0, velocityX: 0,
            BuildPalette(new Rgb(0.3, 0.3, 0.3), new Rgb(0.8, 0.8, 0.8), sigma, null), Offset(new Rgb(0.3, 0.3, 0.3), new Rgb(0.8, 0.8, 0.8)));
    }

    const double NeutralBreadth = 1.5;

    public static PromptParameters FromPrompt(string prompt, int channels)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), "At least one latent channel is needed.");
        var words = Words(prompt);
        // A prompt of symbols alone ("🔥🌊") is still a prompt: it gets a look of its own, not the unconditional one.
        // Punctuation and spaces alone say nothing, and stay neutral.
        var symbols = new string(prompt.Where(c => !char.IsWhiteSpace(c) && !char.IsPunctuation(c)).ToArray());
        if (words.Count == 0 && symbols.Length > 0) words = new[] { symbols };
        if (words.Count == 0) return Neutral(channels);

        var texture = words.Select(w => Textures.GetValueOrDefault(w)).FirstOrDefault(t => t is not null);
        var rest = words.Where(w => !Textures.ContainsKey(w) && !Colours.ContainsKey(w) && !Directions.ContainsKey(w)
                                    && !SpeedWords.ContainsKey(w) && !StopWords.Contains(w)).ToList();
        var random = new HashStream(Fnv1a(string.Join(' ', rest)));
        bool perturb = rest.Count > 0;
        double U() => perturb ? random.NextSigned() : 0.0;

        var look = texture ?? InventedTexture(new HashStream(Fnv1a(string.Join(' ', words))));
        double beta = Math.Max(0.5, look.Beta + 0.35 * U());
        double k0 = look.K0 * Math.Exp(0.25 * U());
        double t0 = look.T0 * Math.Exp(0.3 * U());
        double speed = look.Speed * Math.Exp(0.2 * U());
        double angle = Math.Atan2(look.DirY, look.DirX) + 0.35 * U();

        var dirs = words.Where(Directions.ContainsKey).Select(w => Directions[w]).ToList();
        if (dirs.Count > 0)
        {
            double dy = dirs.Sum(d => d.Y), dx = dirs.Sum(d => d.X);
            if (dy != 0 || dx != 0) angle = Math.Atan2(dy, dx);
            if (look.Speed == 0) speed = 0.3;
        }
        // Each word once: "fast fast fast ..." must not push the speed or the persistence to infinity.
        foreach (var w in words.Where(SpeedWords.ContainsKey).Distinct())
        {
            var (speedFactor, persistenceFactor) = SpeedWords[w];
            speed *= speedFactor;
            t0 *= persistenceFactor;
        }

        var baseColour = look.Base;
        var accent = look.Accent;
        var named = words.Where(Colours.ContainsKey).Select(w => Colours[w]).ToList();
        if (named.Count > 0)
        {
            var colour = Rgb.Mean(named);
            accent = Rgb.Mix(accent, colour, 0.65);
            baseColour = Rgb.Mix(baseColour, colour.Scale(0.4).Add(0.04), 0.5);
        }
        baseColour = baseColour.Jitter(0.06 * U(), 0.06 * U(), 0.06 * U());
        accent = accent.Jitter(0.08 * U(), 0.08 * U(), 0.08 * U());

        var sigma = BaseSigma(channels, perturb ? random : null);
        double hueTurn = perturb ? Math.PI * random.NextSigned() : 0.0;
        return new PromptParameters(sigma, beta, k0, t0, speed * Math.Sin(angle), speed * Math.Cos(angle),
            BuildPalette(baseColour, accent, sigma, new HashStream(Fnv1a(string.Join(' ', words)) ^ 0x5bd1e995UL), hueTurn),
            Offset(baseColour, accent));
    }

    /// <summary>Lower-case words of letters and digits.</summary>
    public static IReadOnlyList<string> Words(string prompt)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        foreach (char ch in prompt.ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(ch)) { current.Append(ch); continue; }
            if (current.Length > 0) { words.Add(current.ToString()); current.Clear(); }
        }
        if (current.Length > 0) words.Add(current.ToString());
        return words;
    }

    /// <summary>FNV-1a 64 over UTF-8: stable across processes, platforms and .NET versions.</summary>
    public static ulong Fnv1a(string text)
    {
        ulong h = 0xcbf29ce484222325UL;
        foreach (byte b in Encoding.UTF8.GetBytes(text)) { h ^= b; h *= 0x100000001b3UL; }
        return h;
    }

    static double[] BaseSigma(int channels, HashStream? random) =>
        Enumerable.Range(0, channels).Select(c => (c < 4 ? new[] { 1.0, 0.85, 0.75, 0.65 }[c] : 0.6)
                                                  * (random is null ? 1.0 : Math.Exp(0.12 * random.NextSigned()))).ToArray();

    // rgb = 0.5 + offset + M z: channel 0 swings between the base and the accent colour (at about
    // +-1.6 sigma), channel 1 is brightness, the others add hue; columns are divided by sigma so the
    // colour swing does not depend on the channel's strength.
    static double[,] BuildPalette(Rgb baseColour, Rgb accent, double[] sigma, HashStream? random, double hueTurn = 0)
    {
        int channels = sigma.Length;
        var m = new double[3, channels];
        var swing = accent.Add(baseColour.Scale(-1)).Scale(0.5 / 1.6);
        var hue1 = new Rgb(1 / Math.Sqrt(2), -1 / Math.Sqrt(2), 0);
        var hue2 = new Rgb(1 / Math.Sqrt(6), 1 / Math.Sqrt(6), -2 / Math.Sqrt(6));
        var turned1 = hue1.Scale(Math.Cos(hueTurn)).Add(hue2.Scale(Math.Sin(hueTurn)));
        var turned2 = hue2.Scale(Math.Cos(hueTurn)).Add(hue1.Scale(-Math.Sin(hueTurn)));
        for (int c = 0; c < channels; c++)
        {
            var column = c switch
            {
                0 => swing,
                1 => new Rgb(0.09, 0.09, 0.09),
                2 => turned1.Scale(0.07),
                3 => turned2.Scale(0.05),
                _ => new Rgb(Next(random), Next(random), Next(random)).Scale(0.03),
            };
            m[0, c] = column.R / sigma[c]; m[1, c] = column.G / sigma[c]; m[2, c] = column.B / sigma[c];
        }
        return m;
        static double Next(HashStream? r) => r?.NextSigned() ?? 0.0;
    }

    static double[] Offset(Rgb baseColour, Rgb accent)
    {
        var mid = Rgb.Mix(baseColour, accent, 0.5);
        return new[] { mid.R - 0.5, mid.G - 0.5, mid.B - 0.5 };
    }

    static Texture InventedTexture(HashStream random)
    {
        double Range(double lo, double hi) => lo + (hi - lo) * random.NextUnit();
        var baseColour = Rgb.FromHue(random.NextUnit(), 0.6, 0.25);
        var accent = Rgb.FromHue(random.NextUnit(), 0.7, 0.8);
        double angle = 2 * Math.PI * random.NextUnit();
        return new Texture(Range(2.4, 3.8), Range(0.04, 0.1), Range(8, 24), 0.3, Math.Sin(angle), Math.Cos(angle), baseColour, accent);
    }

    sealed record Texture(double Beta, double K0, double T0, double Speed, double DirY, double DirX, Rgb Base, Rgb Accent);

    static readonly Texture Clouds = new(3.2, 0.05, 24, 0.35, 0, 1, new Rgb(0.32, 0.52, 0.85), new Rgb(0.97, 0.97, 1.0));
    static readonly Texture Fire = new(2.6, 0.08, 6, 0.6, -1, 0, new Rgb(0.5, 0.08, 0.02), new Rgb(1.0, 0.85, 0.3));
    static readonly Texture Ocean = new(3.0, 0.07, 10, 0.4, 0.3, 1, new Rgb(0.02, 0.18, 0.38), new Rgb(0.35, 0.8, 0.85));
    static readonly Texture Smoke = new(3.6, 0.04, 18, 0.3, -1, 0.4, new Rgb(0.16, 0.16, 0.18), new Rgb(0.78, 0.78, 0.8));
    static readonly Texture Marble = new(2.4, 0.12, 60, 0.1, 0, 1, new Rgb(0.88, 0.86, 0.82), new Rgb(0.3, 0.3, 0.36));
    static readonly Texture Nebula = new(3.0, 0.05, 30, 0.15, 0.5, 1, new Rgb(0.06, 0.02, 0.14), new Rgb(0.92, 0.38, 0.72));
    static readonly Texture Lava = new(3.4, 0.06, 20, 0.2, 1, 0, new Rgb(0.14, 0.02, 0.0), new Rgb(1.0, 0.5, 0.05));
    static readonly Texture Aurora = new(3.0, 0.04, 12, 0.3, 0, 1, new Rgb(0.02, 0.05, 0.14), new Rgb(0.25, 1.0, 0.55));

    static readonly Dictionary<string, Texture> Textures = new()
    {
        ["cloud"] = Clouds, ["clouds"] = Clouds, ["cloudy"] = Clouds, ["sky"] = Clouds,
        ["fire"] = Fire, ["fires"] = Fire, ["flame"] = Fire, ["flames"] = Fire, ["burning"] = Fire,
        ["ocean"] = Ocean, ["sea"] = Ocean, ["water"] = Ocean, ["waves"] = Ocean, ["wave"] = Ocean, ["river"] = Ocean,
        ["smoke"] = Smoke, ["smoky"] = Smoke, ["fog"] = Smoke, ["mist"] = Smoke,
        ["marble"] = Marble, ["stone"] = Marble,
        ["nebula"] = Nebula, ["nebulae"] = Nebula, ["galaxy"] = Nebula, ["space"] = Nebula,
        ["lava"] = Lava, ["magma"] = Lava,
        ["aurora"] = Aurora, ["auroras"] = Aurora, ["borealis"] = Aurora,
    };

    static readonly Dictionary<string, Rgb> Colours = new()
    {
        ["red"] = new(0.9, 0.1, 0.08), ["crimson"] = new(0.8, 0.05, 0.15), ["orange"] = new(1.0, 0.5, 0.05),
        ["yellow"] = new(1.0, 0.9, 0.2), ["gold"] = new(1.0, 0.75, 0.2), ["golden"] = new(1.0, 0.75, 0.2),
        ["green"] = new(0.15, 0.8, 0.25), ["blue"] = new(0.1, 0.3, 0.95), ["cyan"] = new(0.1, 0.8, 0.85),
        ["teal"] = new(0.05, 0.6, 0.6), ["turquoise"] = new(0.2, 0.85, 0.8), ["purple"] = new(0.55, 0.15, 0.85),
        ["violet"] = new(0.6, 0.3, 0.95), ["pink"] = new(1.0, 0.4, 0.7), ["magenta"] = new(0.95, 0.1, 0.8),
        ["white"] = new(0.96, 0.96, 0.96), ["black"] = new(0.03, 0.03, 0.04), ["dark"] = new(0.05, 0.05, 0.07),
        ["grey"] = new(0.5, 0.5, 0.5), ["gray"] = new(0.5, 0.5, 0.5), ["silver"] = new(0.75, 0.77, 0.8),
    };

    static readonly Dictionary<string, (double Y, double X)> Directions = new()
    {
        ["left"] = (0, -1), ["leftward"] = (0, -1), ["leftwards"] = (0, -1), ["west"] = (0, -1),
        ["right"] = (0, 1), ["rightward"] = (0, 1), ["rightwards"] = (0, 1), ["east"] = (0, 1),
        ["up"] = (-1, 0), ["upward"] = (-1, 0), ["upwards"] = (-1, 0), ["rising"] = (-1, 0), ["north"] = (-1, 0),
        ["down"] = (1, 0), ["downward"] = (1, 0), ["downwards"] = (1, 0), ["falling"] = (1, 0), ["south"] = (1, 0),
    };

    /// <summary>Word -> (factor on the drift speed, factor on the persistence T0).</summary>
    static readonly Dictionary<string, (double Speed, double Persistence)> SpeedWords = new()
    {
        ["slow"] = (0.4, 1.5), ["slowly"] = (0.4, 1.5), ["calm"] = (0.5, 1.4), ["gentle"] = (0.5, 1.3),
        ["fast"] = (2.2, 0.6), ["quick"] = (2.0, 0.7), ["rapid"] = (2.2, 0.6), ["raging"] = (2.0, 0.5), ["stormy"] = (2.0, 0.6),
        ["still"] = (0.0, 3.0), ["static"] = (0.0, 3.0), ["frozen"] = (0.0, 4.0), ["motionless"] = (0.0, 3.0),
    };

    static readonly HashSet<string> StopWords = new() { "a", "an", "the", "of", "in", "on", "and", "with", "at", "to", "over", "by", "is" };

    /// <summary>A deterministic stream of numbers from a 64-bit seed (SplitMix64).</summary>
    sealed class HashStream(ulong seed)
    {
        ulong state = seed;

        public double NextUnit()
        {
            ulong z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (z >> 11) * (1.0 / (1UL << 53));
        }

        public double NextSigned() => 2 * NextUnit() - 1;
    }

    readonly record struct Rgb(double R, double G, double B)
    {
        public Rgb Scale(double s) => new(R * s, G * s, B * s);
        public Rgb Add(Rgb o) => new(R + o.R, G + o.G, B + o.B);
        public Rgb Add(double d) => new(R + d, G + d, B + d);
        public Rgb Jitter(double r, double g, double b) => new(Clamp(R + r), Clamp(G + g), Clamp(B + b));
        public static Rgb Mix(Rgb a, Rgb b, double t) => a.Scale(1 - t).Add(b.Scale(t));
        public static Rgb Mean(IReadOnlyList<Rgb> colours) => colours.Aggregate(new Rgb(0, 0, 0), (s, c) => s.Add(c)).Scale(1.0 / colours.Count);

        /// <summary>A colour from a hue in [0, 1) with the given saturation and value (HSV).</summary>
        public static Rgb FromHue(double hue, double saturation, double value)
        {
            double h = hue * 6, f = h - Math.Floor(h);
            double p = value * (1 - saturation), q = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f));
            return ((int)Math.Floor(h) % 6) switch
            {
                0 => new(value, t, p), 1 => new(q, value, p), 2 => new(p, value, t),
                3 => new(p, q, value), 4 => new(t, p, value), _ => new(value, p, q),
            };
        }

        static double Clamp(double v) => Math.Clamp(v, 0, 1);
    }
}

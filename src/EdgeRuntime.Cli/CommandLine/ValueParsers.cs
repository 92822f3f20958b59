using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace EdgeRuntime.Cli;

/// <summary>
/// Custom parsers for edgectl's option values: each one reports a bad value as a usage error that says what the option
/// takes, instead of System.CommandLine's type-conversion message. No reflection: every value is parsed here.
/// </summary>
internal static class ValueParsers
{
    public delegate bool TryParse<T>(string text, out T value);

    /// <summary>The arity of a single-valued option that may be repeated, the last value winning.</summary>
    public static ArgumentArity Repeatable { get; } = new(1, 1000);

    /// <summary>The option's last value through <paramref name="tryParse"/>; a failure adds <paramref name="error"/>(text).</summary>
    public static Func<ArgumentResult, T?> Single<T>(TryParse<T> tryParse, Func<string, string> error) => result =>
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
        if (tryParse(text, out T value))
        {
            return value;
        }

        result.AddError(error(text));
        return default;
    };

    /// <summary>Every value of a repeated option through <paramref name="tryParse"/>.</summary>
    public static Func<ArgumentResult, T[]?> Each<T>(TryParse<T> tryParse, Func<string, string> error) => result =>
    {
        var values = new T[result.Tokens.Count];
        for (int i = 0; i < values.Length; i++)
        {
            if (!tryParse(result.Tokens[i].Value, out values[i]))
            {
                result.AddError(error(result.Tokens[i].Value));
                return null;
            }
        }

        return values;
    };

    public static bool PositiveInt(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value > 0;

    public static bool WholeNumber(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    public static bool PositiveFinite(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && value > 0 && double.IsFinite(value);

    public static bool Number(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    /// <summary>NAME=VALUE with a non-empty NAME (VALUE may be empty when <paramref name="valueRequired"/> is false).</summary>
    public static TryParse<NamedValue> Named(bool valueRequired) => (string text, out NamedValue value) =>
    {
        int equals = text.IndexOf('=', StringComparison.Ordinal);
        bool ok = equals > 0 && (!valueRequired || equals < text.Length - 1);
        value = ok ? new NamedValue(text[..equals], text[(equals + 1)..]) : default;
        return ok;
    };
}

/// <summary>One NAME=VALUE option value: an input and its file, an output carried to an input.</summary>
internal readonly record struct NamedValue(string Name, string Value);

using System.Globalization;
using System.Text;

namespace EdgeRuntime.Visuals;

/// <summary>
/// Writes SVG 1.1 elements as text: attributes escaped, numbers in the invariant culture (a German locale must not
/// turn 12.5 into "12,5", which no SVG reader accepts). Elements are written one at a time:
/// <c>Start("rect").Attr(...).End()</c>, or <c>.End(tooltip)</c> for a hover title, or <c>.Text(content)</c>.
/// </summary>
internal sealed class SvgWriter
{
    private readonly StringBuilder _text = new();
    private string _open = string.Empty;

    public SvgWriter Start(string element)
    {
        _open = element;
        _text.Append('<').Append(element);
        return this;
    }

    public SvgWriter Attr(string name, string value)
    {
        _text.Append(' ').Append(name).Append("=\"");
        Escape(_text, value);
        _text.Append('"');
        return this;
    }

    public SvgWriter Attr(string name, double value)
    {
        _text.Append(' ').Append(name).Append("=\"").Append(Number(value)).Append('"');
        return this;
    }

    /// <summary>Closes the element; with a tooltip, as a container holding its &lt;title&gt;.</summary>
    public void End(string? tooltip = null)
    {
        if (tooltip is null)
        {
            _text.Append("/>\n");
            return;
        }

        _text.Append("><title>");
        Escape(_text, tooltip);
        _text.Append("</title></").Append(_open).Append(">\n");
    }

    /// <summary>Closes the element with escaped character content (a &lt;text&gt; or &lt;title&gt;).</summary>
    public void Text(string content)
    {
        _text.Append('>');
        Escape(_text, content);
        _text.Append("</").Append(_open).Append(">\n");
    }

    /// <summary>Appends markup as is: only for fixed markup written in this assembly.</summary>
    public void Raw(string markup) => _text.Append(markup);

    public override string ToString() => _text.ToString();

    public static string Number(double value) =>
        double.IsFinite(value) ? Math.Round(value, 2).ToString("0.##", CultureInfo.InvariantCulture) : "0";

    /// <summary>
    /// XML-escapes text. Characters XML 1.0 forbids (most C0 controls, lone surrogates) become U+FFFD: a pipeline name is
    /// whatever its author typed, and one stray control character would make the whole picture unreadable.
    /// </summary>
    private static void Escape(StringBuilder text, string value)
    {
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            switch (c)
            {
                case '&': text.Append("&amp;"); break;
                case '<': text.Append("&lt;"); break;
                case '>': text.Append("&gt;"); break;
                case '"': text.Append("&quot;"); break;
                case '\'': text.Append("&apos;"); break;
                case '\t' or '\n' or '\r': text.Append(c); break;
                case < ' ' or '\uFFFE' or '\uFFFF': text.Append('\uFFFD'); break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                    {
                        text.Append(c).Append(value[++i]);
                    }
                    else
                    {
                        text.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
                    }

                    break;
            }
        }
    }
}

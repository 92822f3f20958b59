namespace EdgeRuntime.Inference.Providers;

/// <summary>What a load does when a provider in the list cannot be used on this machine.</summary>
public enum MissingProviderAction
{
    /// <summary>Load on the next provider in the list and record a warning that info and status show.</summary>
    Fallback,

    /// <summary>Refuse the load with an error that says what to install.</summary>
    Fail,
}

public static class MissingProviderActions
{
    public const string Fallback = "fallback";
    public const string Fail = "fail";

    public static bool TryParse(string? value, out MissingProviderAction action)
    {
        switch (value)
        {
            case Fallback: action = MissingProviderAction.Fallback; return true;
            case Fail: action = MissingProviderAction.Fail; return true;
            default: action = default; return false;
        }
    }
}

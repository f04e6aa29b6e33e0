using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Devices;

/// <summary>The <c>distill.device</c> setting: <c>auto</c> (CUDA when available, else CPU), <c>cpu</c>, <c>cuda</c>.</summary>
public enum DeviceSetting
{
    Auto,
    Cpu,
    Cuda,
}

/// <summary>Parses <c>distill.device</c> and resolves it to a torch device.</summary>
public static class DeviceSelector
{
    public const string Key = "distill.device";

    /// <summary>The allowed values, in the order of <see cref="DeviceSetting"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["auto", "cpu", "cuda"];

    /// <summary>True when this assembly was built with <c>-p:DistillCuda=true</c> (CUDA libtorch package).</summary>
    public static bool BuiltWithCuda =>
#if DISTILL_CUDA
        true;
#else
        false;
#endif

    /// <summary>The libtorch package this build references.</summary>
    public static string LibTorchPackage => BuiltWithCuda ? "libtorch-cuda-12.8-linux-x64" : "libtorch-cpu-linux-x64";

    public static bool TryParse(string? value, out DeviceSetting setting)
    {
        switch (value?.Trim())
        {
            case "auto": setting = DeviceSetting.Auto; return true;
            case "cpu": setting = DeviceSetting.Cpu; return true;
            case "cuda": setting = DeviceSetting.Cuda; return true;
            default: setting = default; return false;
        }
    }

    /// <summary>Parses a setting (exact lower-case names, surrounding blanks ignored); throws
    /// <see cref="ArgumentException"/> naming the key and the allowed values.</summary>
    public static DeviceSetting Parse(string? value) =>
        TryParse(value, out var setting)
            ? setting
            : throw new ArgumentException(
                $"{Key}: '{value}' is not allowed; allowed: {string.Join(", ", Names)}.", nameof(value));

    /// <summary>The name of a setting as written in config (<c>auto</c>, <c>cpu</c>, <c>cuda</c>).</summary>
    public static string Name(DeviceSetting setting) => Names[(int)setting];

    /// <summary>auto -> CUDA when <paramref name="cudaAvailable"/> (default <c>torch.cuda.is_available()</c>)
    /// else CPU; cpu -> CPU; cuda -> CUDA, or <see cref="InvalidOperationException"/> explaining why CUDA is
    /// missing and how to get it.</summary>
    public static DeviceType Resolve(DeviceSetting setting, Func<bool>? cudaAvailable = null)
    {
        var available = cudaAvailable ?? torch.cuda.is_available;
        return setting switch
        {
            DeviceSetting.Cpu => DeviceType.CPU,
            DeviceSetting.Auto => available() ? DeviceType.CUDA : DeviceType.CPU,
            DeviceSetting.Cuda => available() ? DeviceType.CUDA : throw new InvalidOperationException(CudaUnavailableMessage()),
            _ => throw new ArgumentOutOfRangeException(nameof(setting), setting, null),
        };
    }

    /// <summary>Parses and resolves a config value to a torch device (<c>cuda</c> = the default CUDA device).</summary>
    public static Device Select(string? value, Func<bool>? cudaAvailable = null) =>
        new(Resolve(Parse(value), cudaAvailable));

    /// <summary>Why <c>distill.device = cuda</c> cannot be honoured, and what to do.</summary>
    public static string CudaUnavailableMessage() => BuiltWithCuda
        ? $"{Key} = cuda, but torch.cuda.is_available() is false: this build references the CUDA libtorch " +
          $"({LibTorchPackage}), yet no usable NVIDIA GPU/driver was found. Check nvidia-smi and the driver " +
          "(CUDA 12.8 capable), or set distill.device = cpu (or auto)."
        : $"{Key} = cuda, but this build has no CUDA libtorch: it references {LibTorchPackage}. Build with " +
          "`dotnet build -p:DistillCuda=true` (references libtorch-cuda-12.8-linux-x64 instead; needs a NuGet feed " +
          "that has it and an NVIDIA driver for CUDA 12.8), or set distill.device = cpu (or auto).";
}

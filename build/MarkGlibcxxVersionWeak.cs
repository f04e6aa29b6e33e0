using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Sets VER_FLG_WEAK on one named entry of an ELF64 little-endian file's .gnu.version_r (SHT_GNU_verneed)
/// section, in place. Walks Elf64_Verneed / Elf64_Vernaux records; names come from the section's linked
/// string table. Idempotent: an entry already weak, or a file without that entry, is left untouched.
/// </summary>
public class MarkGlibcxxVersionWeak : Task
{
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string VersionName { get; set; } = "";

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    public override bool Execute()
    {
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            try
            {
                string result = Patch(path, VersionName);
                Log.LogMessage(MessageImportance.Low, "{0}: {1}", path, result);
            }
            catch (Exception e)
            {
                Log.LogError("Could not patch {0} ({1}): {2}", path, VersionName, e.Message);
                return false;
            }
        }
        return !Log.HasLoggedErrors;
    }

    private static string Patch(string path, string versionName)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            return "not an ELF file, skipped";
        if (elf[4] != 2 || elf[5] != 1) return "not ELF64 little-endian, skipped";

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        ushort shentsize = BitConverter.ToUInt16(elf, 0x3A);
        ushort shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            int sh = checked((int)shoff + s * shentsize);
            uint type = BitConverter.ToUInt32(elf, sh + 4);
            if (type != ShtGnuVerneed) continue;
            long secOffset = (long)BitConverter.ToUInt64(elf, sh + 0x18);
            uint link = BitConverter.ToUInt32(elf, sh + 0x28);
            long strOffset = (long)BitConverter.ToUInt64(elf, checked((int)shoff + (int)link * shentsize + 0x18));
            int verneedCount = (int)BitConverter.ToUInt32(elf, sh + 0x2C); // sh_info = number of Verneed entries

            long need = secOffset;
            for (int n = 0; n < verneedCount; n++)
            {
                ushort auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
                uint auxOff = BitConverter.ToUInt32(elf, (int)need + 8);
                uint nextNeed = BitConverter.ToUInt32(elf, (int)need + 12);
                long aux = need + auxOff;
                for (int a = 0; a < auxCount; a++)
                {
                    ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                    uint nameOff = BitConverter.ToUInt32(elf, (int)aux + 8);
                    uint nextAux = BitConverter.ToUInt32(elf, (int)aux + 12);
                    if (ReadCString(elf, strOffset + nameOff) == versionName)
                    {
                        if ((flags & VerFlgWeak) != 0) return "already weak";
                        ushort weak = (ushort)(flags | VerFlgWeak);
                        using var fs = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read);
                        fs.Seek(aux + 4, SeekOrigin.Begin);
                        fs.Write(BitConverter.GetBytes(weak), 0, 2);
                        return "marked weak";
                    }
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                if (nextNeed == 0) break;
                need += nextNeed;
            }
        }
        return "no such version requirement";
    }

    private static string ReadCString(byte[] data, long offset)
    {
        int end = (int)offset;
        while (end < data.Length && data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, (int)offset, end - (int)offset);
    }
}

/**
 * Samples for the triage pipeline: generated ones (harmless stubs with the right magic bytes) or the
 * files of a directory.
 */
import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import * as yazl from "yazl";

/** A file to submit: bytes in memory, or a path read when the task is sent. */
export interface Sample {
  name: string;
  data?: Buffer;
  path?: string;
}

/** Fixed timestamp of generated zip entries, so that generated archives are byte-identical. */
const ZIP_TIME = new Date(Date.UTC(2024, 0, 1, 12, 0, 0));

/**
 * A minimal PE file: a DOS header whose `e_lfanew` points right after it, the `PE\0\0` signature,
 * a COFF header for i386 (no sections) and an empty PE32 optional header. Enough for magic-byte
 * classification, not for running.
 */
export function peStub(options: { dll?: boolean } = {}): Buffer {
  const optionalHeaderSize = 0xe0;
  const buf = Buffer.alloc(0x40 + 4 + 20 + optionalHeaderSize);
  buf.write("MZ", 0, "latin1");
  buf.writeUInt32LE(0x40, 0x3c); // e_lfanew
  buf.write("PE\0\0", 0x40, "latin1");
  const coff = 0x44;
  buf.writeUInt16LE(0x14c, coff); // Machine: i386
  buf.writeUInt16LE(0, coff + 2); // NumberOfSections
  buf.writeUInt32LE(0x65920000, coff + 4); // TimeDateStamp
  buf.writeUInt16LE(optionalHeaderSize, coff + 16); // SizeOfOptionalHeader
  // Characteristics: EXECUTABLE_IMAGE | 32BIT_MACHINE (| DLL)
  buf.writeUInt16LE(0x0102 | (options.dll ? 0x2000 : 0), coff + 18);
  buf.writeUInt16LE(0x10b, coff + 20); // optional header magic: PE32
  return buf;
}

/** A minimal ELF64 x86-64 executable header (64 bytes). */
export function elfStub(): Buffer {
  const buf = Buffer.alloc(64);
  buf.write("\x7fELF", 0, "latin1");
  buf[4] = 2; // ELFCLASS64
  buf[5] = 1; // little endian
  buf[6] = 1; // EV_CURRENT
  buf.writeUInt16LE(2, 16); // ET_EXEC
  buf.writeUInt16LE(0x3e, 18); // x86-64
  buf.writeUInt32LE(1, 20);
  buf.writeUInt16LE(64, 52); // e_ehsize
  return buf;
}

/** A zip (deflated entries, fixed timestamps) of the given files. */
export async function zipOf(entries: readonly { name: string; data: Buffer | string }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const entry of entries) {
    const data = typeof entry.data === "string" ? Buffer.from(entry.data, "utf8") : entry.data;
    zip.addBuffer(data, entry.name, { mtime: ZIP_TIME, mode: 0o100644, forceDosTimestamp: true });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The default samples: a Windows executable, a zip (a text file, a shell script, a DLL and a nested
 * zip holding a Python script and an ELF binary), a shell script and a text file.
 */
export async function generateSamples(): Promise<Sample[]> {
  const inner = await zipOf([
    { name: "run.py", data: '#!/usr/bin/env python3\nprint("hello from a nested archive")\n' },
    { name: "linux/agent", data: elfStub() },
  ]);
  const bundle = await zipOf([
    { name: "README.txt", data: "Installation notes\n==================\n\nRun tools/install.sh as root.\n" },
    { name: "tools/install.sh", data: "#!/bin/sh\nset -e\ncp bin/helper.dll /tmp/\necho installed\n" },
    { name: "bin/helper.dll", data: peStub({ dll: true }) },
    { name: "nested/inner.zip", data: inner },
  ]);
  return [
    { name: "invoice.exe", data: peStub() },
    { name: "bundle.zip", data: bundle },
    {
      name: "deploy.sh",
      data: Buffer.from("#!/bin/bash\nfor host in a b c; do\n  scp build.tar $host:\ndone\n"),
    },
    { name: "notes.txt", data: Buffer.from("Meeting notes: nothing suspicious here.\n") },
  ];
}

/** Every regular file below `directory` (recursively, sorted), named by its relative path. */
export async function readSampleDirectory(directory: string): Promise<Sample[]> {
  const info = await stat(directory);
  if (!info.isDirectory()) throw new Error(`${directory} is not a directory`);
  const out: Sample[] = [];
  const visit = async (dir: string) => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await visit(path);
      else if (entry.isFile()) out.push({ name: relative(directory, path).split(sep).join("/"), path });
    }
  };
  await visit(directory);
  return out;
}

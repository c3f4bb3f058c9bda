// A WriteFs (io/files.ts) whose disk holds `room` bytes: writes past it fail
// with ENOSPC, as on a full file system (no tmpfs to fill in a test sandbox).
import { WriteFs, realFs } from '../../io/files.js';

export function fullDisk(room: number): WriteFs {
  let used = 0;
  return {
    ...realFs,
    writeSync(fd, bytes, offset, length) {
      const n = Math.min(length, Math.max(0, room - used));
      if (n === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
      used += n;
      return realFs.writeSync(fd, bytes, offset, n);
    },
  };
}

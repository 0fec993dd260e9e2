import { StorageKeys, type ParleyStorage } from "./storage.js";

/** The highest seq this device has handed on per group, persisted: where a group catch-up resumes. */
export class GroupMarks {
  private readonly marks = new Map<string, number>();

  constructor(private readonly storage: ParleyStorage) {}

  async get(groupId: string): Promise<number | undefined> {
    const known = this.marks.get(groupId);
    if (known !== undefined) return known;
    const stored = (await this.storage.get(StorageKeys.groupSeqPrefix + groupId)) as number | undefined;
    if (stored !== undefined) this.marks.set(groupId, stored);
    return stored;
  }

  /** The mark without a storage read: 0 when nothing is known yet. */
  peek(groupId: string): number {
    return this.marks.get(groupId) ?? 0;
  }

  async set(groupId: string, seq: number): Promise<void> {
    if (seq <= (this.marks.get(groupId) ?? 0)) return;
    this.marks.set(groupId, seq);
    await this.storage.set(StorageKeys.groupSeqPrefix + groupId, seq);
  }
}

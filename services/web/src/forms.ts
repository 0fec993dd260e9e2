/** A text field of a submitted form, trimmed ("" when absent). */
export function field(form: HTMLFormElement, name: string): string {
  const value = new FormData(form).get(name);
  return typeof value === "string" ? value.trim() : "";
}

/** User names typed into one field, separated by commas or spaces. */
export function names(text: string): string[] {
  return text.split(/[\s,]+/).filter((name) => name !== "");
}

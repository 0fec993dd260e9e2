import type { Locator, Page } from "playwright-core";

/** What a person does and sees in the messenger, in the words of its labels. */
export class MessengerPage {
  constructor(readonly page: Page) {}

  conversationList(): Locator {
    return this.page.getByRole("navigation", { name: "Conversations" });
  }

  conversationItem(name: string): Locator {
    return this.conversationList().getByRole("button").filter({ has: this.page.locator(".name", { hasText: exactly(name) }) });
  }

  messages(): Locator {
    return this.page.getByRole("log", { name: "Messages" });
  }

  /** The texts of the open conversation's messages, top to bottom. */
  async texts(): Promise<string[]> {
    return this.messages().locator(".message .text").allTextContents();
  }

  async startChat(user: string): Promise<void> {
    await this.page.getByLabel("Chat with").fill(user);
    await this.page.getByRole("button", { name: "Start" }).click();
    await this.page.getByRole("heading", { name: user }).waitFor();
  }

  async open(name: string): Promise<void> {
    await this.conversationItem(name).click();
    await this.page.getByRole("heading", { name }).waitFor();
  }

  async write(text: string): Promise<void> {
    await this.page.getByLabel("Message", { exact: true }).fill(text);
    await this.page.keyboard.press("Enter");
  }

  /** Your message with exactly this text. */
  mine(text: string): Locator {
    return this.messages()
      .locator(".message.mine")
      .filter({ has: this.page.locator(".text", { hasText: exactly(text) }) });
  }

  /** Until your message with this text shows this tick: "sending", "sent", "delivered" or "read". */
  async seesTick(text: string, tick: "sending" | "sent" | "delivered" | "read"): Promise<void> {
    await this.mine(text).locator(`.tick[aria-label="${tick}"]`).waitFor();
  }

  /** Until the open conversation shows a message with exactly this text. */
  async seesMessage(text: string): Promise<void> {
    await this.messages().locator(".message .text", { hasText: exactly(text) }).waitFor();
  }

  status(): Locator {
    return this.page.locator(".chat-header .status");
  }
}

/** Until the locator is on the screen. */
export async function shows(locator: Locator): Promise<void> {
  await locator.waitFor({ state: "visible" });
}

/** Until the locator is no longer in the page. */
export async function gone(locator: Locator): Promise<void> {
  await locator.waitFor({ state: "detached" });
}

/** Matches exactly this text, whatever characters it holds. */
function exactly(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
}

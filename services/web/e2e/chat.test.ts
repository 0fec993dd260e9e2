import { describe, expect, it } from "vitest";
import { gone, MessengerPage, shows } from "./support/messenger-page.js";
import { webTestBed } from "./support/web-platform.js";

const bed = webTestBed();

describe("two people chatting in the browser", () => {
  it("a message shows up on the other's screen, with its unread count, then delivered and read ticks", async () => {
    const alice = new MessengerPage((await bed.signIn("alice")).page);
    const bob = new MessengerPage((await bed.signIn("bob")).page);

    await alice.startChat("bob");
    await alice.write("hi bob");
    await alice.seesTick("hi bob", "delivered");

    await shows(bob.conversationItem("alice").getByLabel("1 unread"));
    expect(await bob.conversationItem("alice").textContent()).toContain("hi bob");
    await bob.open("alice");
    await bob.seesMessage("hi bob");
    await alice.seesTick("hi bob", "read");
    await gone(bob.conversationItem("alice").getByLabel("1 unread"));

    await bob.write("hi alice");
    await alice.seesMessage("hi alice");
    expect(await alice.texts()).toEqual(["hi bob", "hi alice"]);
  });

  it("works from the keyboard alone: sign in, start a conversation, write", async () => {
    const context = await bed.browser.newContext();
    const page = await context.newPage();
    await page.goto(bed.url);
    const hasFocus = (element: unknown): boolean => element === (element as { ownerDocument: { activeElement: unknown } }).ownerDocument.activeElement;
    /** Presses Tab until the field labelled so has the focus (at most 15 times). */
    const tabTo = async (label: string): Promise<void> => {
      const target = page.getByLabel(label, { exact: true });
      for (let presses = 0; presses < 15 && !(await target.evaluate(hasFocus)); presses++) await page.keyboard.press("Tab");
      expect(await target.evaluate(hasFocus), `focus reaches ${label}`).toBe(true);
    };
    await page.keyboard.type("kim");
    await page.keyboard.press("Enter");
    await tabTo("Chat with");
    await page.keyboard.type("lou");
    await page.keyboard.press("Enter");
    await tabTo("Message");
    await page.keyboard.type("typed without a mouse");
    await page.keyboard.press("Enter");
    await new MessengerPage(page).seesTick("typed without a mouse", "sent");
    await context.close();
  });

  it("someone who was offline sees what was written meanwhile, in order, and what they wrote offline goes out", async () => {
    const carol = await bed.signIn("carol");
    const dave = await bed.signIn("dave");
    const carolPage = new MessengerPage(carol.page);
    const davePage = new MessengerPage(dave.page);
    await carolPage.startChat("dave");
    await carolPage.write("before");
    await davePage.open("carol");
    await davePage.seesMessage("before");

    await dave.context.setOffline(true);
    await shows(dave.page.getByRole("status").filter({ hasText: "offline" }));
    for (const text of ["one", "two", "three"]) await carolPage.write(text);
    await carolPage.seesTick("three", "sent");
    await davePage.write("written offline");
    await davePage.seesTick("written offline", "sending");
    expect(await davePage.texts()).toEqual(["before", "written offline"]);

    await dave.context.setOffline(false);
    await gone(dave.page.getByRole("status"));
    await davePage.seesMessage("three");
    await carolPage.seesMessage("written offline");
    expect(await davePage.texts()).toEqual(["before", "one", "two", "three", "written offline"]);
    expect(await carolPage.texts()).toEqual(["before", "one", "two", "three", "written offline"]);
    await carolPage.seesTick("three", "read");
  });
});

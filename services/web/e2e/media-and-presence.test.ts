import { describe, expect, it } from "vitest";
import { MessengerPage, shows } from "./support/messenger-page.js";
import { webTestBed } from "./support/web-platform.js";

const bed = webTestBed();

describe("images, typing and presence in the browser", () => {
  it("an image one person sends is shown to the other", async () => {
    const erin = await bed.signIn("erin");
    const frank = new MessengerPage((await bed.signIn("frank")).page);
    const erinPage = new MessengerPage(erin.page);
    // A real PNG: a screenshot of the sign-in header, taken by the browser itself.
    const png = await erin.page.screenshot({ clip: { x: 0, y: 0, width: 64, height: 48 } });

    await erinPage.startChat("frank");
    await erin.page.getByLabel("Attach files").setInputFiles({ name: "picture.png", mimeType: "image/png", buffer: png });
    await shows(erin.page.getByRole("list", { name: "Files to send" }).getByText("picture.png"));
    await erin.page.getByRole("button", { name: "Send" }).click();
    await erinPage.messages().locator('.message.mine .tick[aria-label="delivered"]').waitFor();

    await frank.open("erin");
    const image = frank.messages().locator(".message img");
    await shows(image);
    // Decoded, at the size it was sent: the bytes arrived whole through a signed link.
    const decodedWidth = (element: unknown): number => {
      const img = element as { complete: boolean; naturalWidth: number };
      return img.complete ? img.naturalWidth : 0;
    };
    await expect.poll(() => image.evaluate(decodedWidth)).toBe(64);
  });

  it("typing shows on the other screen, and contacts see each other online, then last seen", async () => {
    const gina = new MessengerPage((await bed.signIn("gina")).page);
    const hank = await bed.signIn("hank");
    const hankPage = new MessengerPage(hank.page);

    await gina.startChat("hank");
    await gina.write("are you there?");
    await hankPage.open("gina");
    await hankPage.seesMessage("are you there?");
    // Presence is shown to contacts only: users who have both written to each other.
    await hankPage.write("yes");
    await gina.seesMessage("yes");
    await shows(gina.status().filter({ hasText: /^online$/ }));
    await shows(gina.conversationItem("hank").getByRole("img", { name: "online" }));

    // At a person's pace: the app says "typing" at most every 3 seconds, so the first
    // keystrokes after "yes" fall in the same window and the later ones announce it.
    await hank.page.getByLabel("Message", { exact: true }).pressSequentially("I am writing", { delay: 400 });
    await shows(gina.page.getByText("hank is typing…"));
    await hank.page.keyboard.press("Enter");
    await gina.seesMessage("I am writing");
    await shows(gina.page.locator(".typing:empty"));

    await hank.page.getByRole("button", { name: "Sign out" }).click();
    await shows(gina.status().filter({ hasText: /^last seen/ }));
  });
});

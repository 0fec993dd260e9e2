import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ParleyClient } from "../../sdk/index.js";
import { nodeWebSocket } from "../../sdk/node.js";
import { gone, MessengerPage, shows } from "./support/messenger-page.js";
import { webTestBed } from "./support/web-platform.js";

const bed = webTestBed();
const PHONE = { width: 390, height: 760 };
/** `npm run screenshots` sets it: the screens go into docs/screenshots for the README. */
const SCREENSHOTS = process.env.PARLEY_UPDATE_SCREENSHOTS === "1" ? fileURLToPath(new URL("../../../docs/screenshots/", import.meta.url)) : null;

async function connectFromNode(userId: string): Promise<ParleyClient> {
  const token = await bed.platform.tokens.issue(userId, 3600);
  const client = new ParleyClient({ url: bed.platform.websocketUrl, token, WebSocket: nodeWebSocket, reconnect: false });
  await client.connect();
  return client;
}

/** A PNG's width, from its header: what the browser rendered, at the size asked for. */
function pngWidth(png: Buffer): number {
  expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
  return png.readUInt32BE(16);
}

/** A PNG to send: a card drawn and photographed by the browser. */
async function drawPicture(caption: string): Promise<Buffer> {
  const page = await bed.browser.newPage({ viewport: { width: 360, height: 200 } });
  await page.setContent(
    `<body style="margin:0;display:grid;place-items:center;height:200px;font:600 22px system-ui;color:#fff;background:linear-gradient(135deg,#0ea5e9,#6366f1)">${caption}</body>`,
  );
  const png = await page.screenshot();
  await page.close();
  return png;
}

async function keep(name: string, png: Buffer): Promise<void> {
  if (SCREENSHOTS === null) return;
  await mkdir(SCREENSHOTS, { recursive: true });
  await writeFile(`${SCREENSHOTS}${name}`, png);
}

describe("the messenger's screens", () => {
  it("on a phone-sized screen, one pane at a time, with older messages paged in as the conversation scrolls up", async () => {
    const quinn = await connectFromNode("quinn");
    const group = await quinn.groups.create("history", ["pat"]);
    for (let n = 1; n <= 70; n++) await quinn.groups.send(group.groupId, `message ${n}`);
    await quinn.close();

    const pat = await bed.signIn("pat", { viewport: PHONE });
    const page = new MessengerPage(pat.page);
    await page.open("history");
    await shows(page.messages());
    expect(await page.conversationList().isVisible()).toBe(false);
    await page.seesMessage("message 70");
    expect((await page.texts()).length).toBe(50);

    while (!(await page.texts()).includes("message 1")) {
      const before = (await page.texts()).length;
      await page.messages().evaluate((element: unknown) => {
        (element as { scrollTop: number }).scrollTop = 0;
      });
      await expect.poll(async () => (await page.texts()).length).toBeGreaterThan(before);
    }
    expect(await page.texts()).toEqual(Array.from({ length: 70 }, (_, i) => `message ${i + 1}`));

    await pat.page.getByRole("button", { name: "Back to conversations" }).click();
    await shows(page.conversationList());
    await gone(page.messages());
  });

  it("renders the main screens (npm run screenshots keeps them in docs/screenshots)", async () => {
    const signInPage = await bed.browser.newPage({ viewport: { width: 900, height: 560 } });
    await signInPage.goto(bed.url);
    await shows(signInPage.getByLabel("Your name"));
    const signIn = await signInPage.screenshot();
    expect(pngWidth(signIn)).toBe(900);
    await keep("sign-in.png", signIn);
    await signInPage.close();

    const ann = await bed.signIn("ann");
    const ben = new MessengerPage((await bed.signIn("ben")).page);
    const annPage = new MessengerPage(ann.page);
    await annPage.startChat("ben");
    await annPage.write("Hi Ben! Here is the plan for Saturday.");
    const picture = await drawPicture("🧗 Saturday, 9:00 at the crag");
    await ann.page.getByLabel("Attach files").setInputFiles({ name: "plan.png", mimeType: "image/png", buffer: picture });
    await ann.page.getByRole("button", { name: "Send" }).click();
    await ben.open("ann");
    await shows(ben.messages().locator(".message img"));
    await ben.write("Looks great, see you there 👍");
    await annPage.seesMessage("Looks great, see you there 👍");
    await annPage.seesTick("Hi Ben! Here is the plan for Saturday.", "read");

    await ann.page.getByText("New group").click();
    await ann.page.getByLabel("Group name").fill("climbing club");
    await ann.page.getByLabel("Members", { exact: true }).fill("ben, cleo");
    await ann.page.getByRole("button", { name: "Create group" }).click();
    await annPage.write("Welcome to the club!");
    await ben.open("climbing club");
    await ben.write("Thanks Ann");
    await annPage.seesMessage("Thanks Ann");
    const group = await ann.page.screenshot();
    await ann.page.getByRole("button", { name: "Members" }).click();
    await shows(ann.page.getByRole("combobox", { name: "Role of ben" }));
    const members = await ann.page.screenshot();
    await annPage.open("ben");
    await shows(annPage.mine("Hi Ben! Here is the plan for Saturday."));
    const chat = await ann.page.screenshot();

    await ben.page.setViewportSize(PHONE);
    const phone = await ben.page.screenshot();
    expect([chat, group, members].map(pngWidth)).toEqual([1100, 1100, 1100]);
    expect(pngWidth(phone)).toBe(PHONE.width);
    await keep("chat.png", chat);
    await keep("group.png", group);
    await keep("group-members.png", members);
    await keep("phone.png", phone);
  });
});

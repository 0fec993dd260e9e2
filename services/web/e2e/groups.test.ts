import { describe, expect, it } from "vitest";
import { gone, MessengerPage, shows } from "./support/messenger-page.js";
import { webTestBed } from "./support/web-platform.js";

const bed = webTestBed();

describe("groups in the browser", () => {
  it("a group of three talks; a removed member sees no more of it, the others go on", async () => {
    const olive = new MessengerPage((await bed.signIn("olive")).page);
    const mia = new MessengerPage((await bed.signIn("mia")).page);
    const adam = new MessengerPage((await bed.signIn("adam")).page);

    await olive.page.getByText("New group").click();
    await olive.page.getByLabel("Group name").fill("team");
    await olive.page.getByLabel("Members", { exact: true }).fill("mia, adam");
    await olive.page.getByRole("button", { name: "Create group" }).click();
    await shows(olive.page.getByRole("heading", { name: "team" }));
    await olive.write("hello team");

    for (const member of [mia, adam]) {
      await shows(member.conversationItem("team").getByLabel("1 unread"));
      await member.open("team");
      await member.seesMessage("hello team");
    }
    await mia.write("hi from mia");
    await olive.seesMessage("hi from mia");
    await adam.seesMessage("hi from mia");
    expect(await adam.messages().locator(".message .sender").allTextContents()).toEqual(["olive", "mia"]);

    await olive.page.getByRole("button", { name: "Members" }).click();
    const panel = olive.page.getByRole("complementary", { name: "Members" });
    await shows(panel.getByText("mia"));
    await olive.page.getByRole("combobox", { name: "Role of adam" }).selectOption("admin");
    await shows(adam.status().filter({ hasText: /^admin$/ }));
    await panel.getByRole("button", { name: "Remove mia" }).click();
    await gone(panel.getByRole("button", { name: "Remove mia" }));
    await shows(mia.status().filter({ hasText: "you are no longer a member" }));
    await gone(mia.page.getByLabel("Message", { exact: true }));

    await olive.write("mia has left");
    await adam.seesMessage("mia has left");
    await olive.seesMessage("mia has left");
    expect(await mia.texts()).toEqual(["hello team", "hi from mia"]);
  });
});

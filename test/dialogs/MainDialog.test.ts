import { strict as assert } from 'node:assert';
import { ActivityTypes, ConversationState, MemoryStorage, TestAdapter, type Activity, type TurnContext } from 'botbuilder';
import { TextPrompt, WaterfallDialog, type DialogStateManagerConfiguration } from 'botbuilder-dialogs';
import { IRREVOCABLE_MESSAGE, MainDialog } from '../../dialogs/MainDialog';
import { BUILT_IN_COMMANDS, COMMANDS } from '../../dialogs/commandCatalog';
import { dialogBot, everyoneAdmin } from '../support/dialogBot';

function cardJson(activity: Partial<Activity>): string {
  return JSON.stringify(activity.attachments?.[0]?.content ?? {});
}

function isHelpCard(activity: Partial<Activity>): void {
  assert.ok(cardJson(activity).includes('VPP Books: commands'), `expected the help card, got ${activity.text ?? cardJson(activity)}`);
}

/** A stand-in flow that waits for an answer, to prove cancel/help interrupt whatever is running. */
function probeFlow(): WaterfallDialog {
  return new WaterfallDialog('probe', [
    (step) => step.prompt('probePrompt', 'Which Apple ID manages this token?'),
    async (step) => {
      await step.context.sendActivity(`Noted: ${String(step.result)}`);
      return step.endDialog();
    },
  ]);
}

function mainWithProbe(): MainDialog {
  const dialog = new MainDialog([{ command: 'tokens', dialog: probeFlow(), adminOnly: false, personalChatOnly: false }], everyoneAdmin);
  dialog.addDialog(new TextPrompt('probePrompt'));
  return dialog;
}

function adapterFor(dialog: MainDialog): TestAdapter {
  const conversationState = new ConversationState(new MemoryStorage());
  const bot = dialogBot(dialog, { state: conversationState });
  return new TestAdapter((context) => bot.run(context));
}

describe('MainDialog', () => {
  it('answers help with the command card', async () => {
    await adapterFor(new MainDialog([], everyoneAdmin)).send('help').assertReply(isHelpCard);
  });

  it("names on the help card who holds the tokens: the bot itself, or Intune when VPP_BACKEND=intune", async () => {
    const mode = (text: string) => (activity: Partial<Activity>) => assert.ok(cardJson(activity).includes(text), cardJson(activity));
    await adapterFor(new MainDialog([], everyoneAdmin)).send('help').assertReply(mode('Mode: **this bot** holds the VPP tokens'));
    await adapterFor(new MainDialog([], everyoneAdmin, { backend: 'intune' })).send('help').assertReply(mode('Mode: **Microsoft Intune** holds the VPP tokens'));
  });

  it('refuses unassign and revoke: book licenses cannot be reclaimed', async () => {
    await adapterFor(new MainDialog([], everyoneAdmin)).send('revoke Moby Dick').assertReply(IRREVOCABLE_MESSAGE).send('unassign').assertReply(IRREVOCABLE_MESSAGE);
  });

  it('does not echo an unknown command back', async () => {
    await adapterFor(new MainDialog([], everyoneAdmin))
      .send('synchronise **everything** now')
      .assertReply((reply) => {
        assert.ok(!String(reply.text).includes('everything'));
        assert.match(String(reply.text), /don't know that command/);
      });
  });

  it('suggests the closest command for a typo, quoting what was typed', async () => {
    const flows = ['tokens', 'sync', 'upload token', 'my books', 'approvals'].map((command) => ({
      command,
      answer: async (context: TurnContext) => void (await context.sendActivity(command)),
      adminOnly: false,
      personalChatOnly: false,
    }));
    await adapterFor(new MainDialog(flows, everyoneAdmin))
      .send('hlep')
      .assertReply('I don\'t know "hlep". Did you mean **help**?')
      .send('tokns')
      .assertReply('I don\'t know "tokns". Did you mean **tokens**?')
      .send('snyc northwind')
      .assertReply('I don\'t know "snyc". Did you mean **sync**?')
      .send('uplaod  token')
      .assertReply('I don\'t know "uplaod token". Did you mean **upload token**?')
      .send('Hello there')
      .assertReply((r) => assert.equal(r.text, "I don't know that command. Type **help** to see the commands I understand."));
  });

  it('names every command equally close to a typo', async () => {
    const flows = ['sync', 'sink'].map((command) => ({ command, answer: async () => undefined, adminOnly: false, personalChatOnly: false }));
    await adapterFor(new MainDialog(flows, everyoneAdmin)).send('synk').assertReply('I don\'t know "synk". Did you mean **sync** or **sink**?');
  });

  it('suggests only commands that may run in this conversation (no personal-chat flow in a channel, nothing that changes state in a group chat)', async () => {
    const flows = [
      { command: 'upload token', answer: async () => undefined, adminOnly: false, personalChatOnly: true },
      { command: 'assign', answer: async () => undefined, adminOnly: false, personalChatOnly: false, changesState: true },
      { command: 'books', answer: async () => undefined, adminOnly: false, personalChatOnly: false },
    ];
    const unknown = (r: Partial<Activity>) => assert.match(String(r.text), /^I don't know that command\./);
    const inGroupChat = (text: string) => ({ type: ActivityTypes.Message, text, conversation: { id: 'g', conversationType: 'groupChat', isGroup: true } }) as Partial<Activity>;
    const inChannel = (text: string) => ({ type: ActivityTypes.Message, text, conversation: { id: 'c', conversationType: 'channel', isGroup: true } }) as Partial<Activity>;
    await adapterFor(new MainDialog(flows, everyoneAdmin))
      .send(inGroupChat('uplod token'))
      .assertReply(unknown)
      .send(inGroupChat('asign'))
      .assertReply(unknown)
      .send(inGroupChat('boks'))
      .assertReply('I don\'t know "boks". Did you mean **books**?')
      .send(inChannel('asign'))
      .assertReply('I don\'t know "asign". Did you mean **assign**?')
      .send(inChannel('uplod token'))
      .assertReply(unknown)
      .send('uplod token')
      .assertReply('I don\'t know "uplod token". Did you mean **upload token**?');
  });

  it('suggests to members and approvers only the commands they may use', async () => {
    const flows = ['tokens', 'sync', 'my books', 'approvals'].map((command) => ({ command, answer: async () => undefined, adminOnly: false, personalChatOnly: false }));
    const as = (role: 'member' | 'approver') => new MainDialog(flows, { ...everyoneAdmin, role: async () => role });
    const unknown = (r: Partial<Activity>) => assert.match(String(r.text), /^I don't know that command\./);
    await adapterFor(as('member'))
      .send('snyc')
      .assertReply(unknown)
      .send('aprovals')
      .assertReply(unknown)
      .send('my boks')
      .assertReply('I don\'t know "my boks". Did you mean **my books**?')
      .send('hlep')
      .assertReply('I don\'t know "hlep". Did you mean **help**?');
    await adapterFor(as('approver')).send('aprovals').assertReply('I don\'t know "aprovals". Did you mean **approvals**?').send('tokns').assertReply(unknown);
  });

  it('answers a pasted token, alone or after a command, with a warning that does not repeat it, and runs nothing', async () => {
    const pasted = 'eyJ0b2tlbiI6IlZHaGxJSE5sWTNKbGRDQjJZV3gxWlEiLCJleHBEYXRlIjoiMjAzMC0xMS0wOFQyMjozMzoyMiswMDAwIn0=';
    const warned = (reply: Partial<Activity>): void => {
      assert.ok(!String(reply.text).includes(pasted.slice(0, 20)));
      assert.match(String(reply.text), /looks like a VPP token.*delete that message/);
    };
    // The probe flow would ask its question if the command ran.
    await adapterFor(mainWithProbe()).send(pasted).assertReply(warned).send(`tokens ${pasted}`).assertReply(warned).send('tokens').assertReply('Which Apple ID manages this token?');
  });

  it('lets cancel leave a flow that is waiting for an answer', async () => {
    await adapterFor(mainWithProbe())
      .send('tokens')
      .assertReply('Which Apple ID manages this token?')
      .send('cancel')
      .assertReply((r) => assert.match(String(r.text), /^Cancelled/))
      .send('admin@example.com')
      .assertReply((r) => assert.match(String(r.text), /don't know that command/, 'the flow is gone'));
  });

  it('shows help in the middle of a flow and then continues it', async () => {
    await adapterFor(mainWithProbe())
      .send('tokens')
      .assertReply('Which Apple ID manages this token?')
      .send('help')
      .assertReply(isHelpCard)
      .send('admin@example.com')
      .assertReply('Noted: admin@example.com');
  });

  it('lists every command on the help card with what it does, as the bot registers a flow for each', async () => {
    const everyFlow = COMMANDS.filter((c) => !BUILT_IN_COMMANDS.has(c.command)).map((c) => ({
      command: c.command,
      answer: async (context: TurnContext) => void (await context.sendActivity(c.command)),
      adminOnly: false,
      personalChatOnly: false,
    }));
    await adapterFor(new MainDialog(everyFlow, everyoneAdmin))
      .send('help')
      .assertReply((reply) => {
        const json = cardJson(reply);
        // The whole description as the card's text, nothing added to it.
        for (const c of COMMANDS) assert.ok(json.includes(JSON.stringify(c.description)), `${c.command}: ${c.description}`);
      });
  });

  it('greets on install with the welcome card', async () => {
    const conversationState = new ConversationState(new MemoryStorage());
    const bot = dialogBot(new MainDialog([], everyoneAdmin), { state: conversationState });
    const adapter = new TestAdapter((context) => bot.run(context));
    await adapter
      .send({ type: ActivityTypes.ConversationUpdate, membersAdded: [{ id: 'bot', name: 'bot' }], recipient: { id: 'bot', name: 'bot' } })
      .assertReply((reply) => assert.ok(cardJson(reply).includes('Welcome to VPP Books')));
  });
});

describe('MainDialog card buttons', () => {
  it('runs the command a card button submits', async () => {
    await adapterFor(new MainDialog([], everyoneAdmin)).send({ type: ActivityTypes.Message, value: { command: 'help' } }).assertReply(isHelpCard);
  });

  it('ignores a forged submission that names no known command', async () => {
    await adapterFor(new MainDialog([], everyoneAdmin))
      .send({ type: ActivityTypes.Message, value: { command: 'drop database' } })
      .assertReply((r) => assert.match(String(r.text), /Type \*\*help\*\*/));
  });
});

describe('MainDialog single-turn commands', () => {
  const answered: string[] = [];
  const main = () =>
    new MainDialog([
      {
        command: 'tokens',
        answer: async (context, options) => {
          answered.push(options.argument);
          await context.sendActivity('token list');
        },
        adminOnly: false,
        personalChatOnly: false,
      },
      { command: 'upload token', answer: async (context) => void (await context.sendActivity('upload started')), adminOnly: false, personalChatOnly: true },
      { command: 'sync', answer: async (context) => void (await context.sendActivity('sync started')), adminOnly: false, personalChatOnly: false, changesState: true },
    ], everyoneAdmin);

  it('answers in the same turn, with the text after the command', async () => {
    await adapterFor(main()).send('tokens northwind').assertReply('token list');
    assert.deepEqual(answered, ['northwind']);
  });

  it('keeps the same rules as dialog flows: personal-chat-only and read-only group chats', async () => {
    const inChannel = (text: string) => ({ type: ActivityTypes.Message, text, conversation: { id: 'c', conversationType: 'channel', isGroup: true } }) as Partial<Activity>;
    const inGroupChat = (text: string) => ({ type: ActivityTypes.Message, text, conversation: { id: 'g', conversationType: 'groupChat', isGroup: true } }) as Partial<Activity>;
    await adapterFor(main())
      .send(inChannel('upload token'))
      .assertReply((r) => assert.match(String(r.text), /only in a personal chat/))
      .send(inGroupChat('sync'))
      .assertReply((r) => assert.match(String(r.text), /only answer read-only commands/));
  });
});

describe('MainDialog turn cost', () => {
  it('builds the dialog memory configuration once, not on every turn of every conversation', async () => {
    const seen: DialogStateManagerConfiguration[] = [];
    const recording = new WaterfallDialog('recording', [
      async (step) => {
        seen.push(step.state.configuration);
        return step.prompt('recordingPrompt', 'Which Apple ID manages this token?');
      },
      async (step) => {
        seen.push(step.state.configuration);
        return step.endDialog();
      },
    ]);
    const main = new MainDialog([{ command: 'tokens', dialog: recording, adminOnly: false, personalChatOnly: false }], everyoneAdmin);
    main.addDialog(new TextPrompt('recordingPrompt'));
    const bot = dialogBot(main);
    const chat = (conversation: string) => new TestAdapter((context) => bot.run(context), { conversation: { id: conversation, isGroup: false, conversationType: 'personal', name: conversation } });
    await chat('first').send('tokens').assertReply('Which Apple ID manages this token?').send('admin@example.com');
    await chat('second').send('tokens').assertReply('Which Apple ID manages this token?').send('admin@example.com');
    assert.equal(seen.length, 4, 'both flows ran both steps');
    assert.ok(seen.every((configuration) => configuration === seen[0]), 'every turn reused the first turn’s configuration');
  });
});

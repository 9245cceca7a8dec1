// A Flok hub for the tests: flok-core's own PubSub server on a websocket, and one Flok client that
// plays the editor. It prints "ready PORT" once listening, then, for each line of JSON on stdin
// ({"target": T, "body": CODE}), publishes CODE to target:T:in as Flok's editor does, and prints
// every message flok-repl publishes on target:T:out as one JSON line.
const WebSocket = require("ws");
const { PubSub, PubSubClient } = require("flok-core");
const readline = require("readline");

const wss = new WebSocket.Server({ host: "127.0.0.1", port: 0, path: "/pubsub" });
new PubSub({ wss });
wss.on("listening", () => {
  const port = wss.address().port;
  const editor = new PubSubClient(`ws://127.0.0.1:${port}/pubsub`, { connect: true, reconnect: false });
  const subscribed = new Set();
  const subscribe = (target) => {
    if (subscribed.has(target)) return;
    subscribed.add(target);
    editor.subscribe(`target:${target}:out`, (msg) => process.stdout.write(JSON.stringify(msg) + "\n"));
  };
  readline.createInterface({ input: process.stdin }).on("line", (line) => {
    const { target, body } = JSON.parse(line);
    subscribe(target);
    editor.publish(`target:${target}:in`, { body, userName: "tests" });
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdout.write(`ready ${port}\n`);
});

// Starts `clm lsp` (the command in the setting clm.server.command) for .clm files.
// Highlighting works without it: it comes from syntaxes/clm.tmLanguage.json.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function serverCommand() {
  const configured = vscode.workspace.getConfiguration("clm").get("server.command") || [];
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
  return configured.map((part) => part.replace("${workspaceFolder}", folder));
}

async function activate(context) {
  const [command, ...args] = serverCommand();
  if (!command) {
    return;
  }
  client = new LanguageClient(
    "clm",
    "clm language server",
    { command, args },
    { documentSelector: [{ scheme: "file", language: "clm" }, { scheme: "untitled", language: "clm" }] },
  );
  context.subscriptions.push(client);
  try {
    await client.start();
  } catch (error) {
    vscode.window.showWarningMessage(
      `clm: could not start \`${[command, ...args].join(" ")}\` (${error}). ` +
        "Install clmlang, or set clm.server.command.",
    );
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };

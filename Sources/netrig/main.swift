import NetrigCommands

await Netrig.entry()

// The command lines of `betcore backup` and `betcore restore` (backup_command.cc).
#pragma once

namespace CLI {
class App;
}

namespace betcore::backup {

void add_backup_commands(CLI::App& app);
// `betcore audit verify|export` (audit_command.cc).
void add_audit_command(CLI::App& app);

}  // namespace betcore::backup

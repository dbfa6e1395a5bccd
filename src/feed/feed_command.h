// `betcore feed` (the odds feed adapter) and `betcore feed-provider` (a
// provider to test against).
#pragma once

namespace CLI {
class App;
}

namespace betcore::feed {

void add_feed_commands(CLI::App& app);

}  // namespace betcore::feed

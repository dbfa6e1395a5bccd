#include "support/process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/temp_dir.h"

namespace betcore::test {
namespace {

TEST(Process, KillAndWait) {
  Process p = Process::spawn("/bin/sleep", {"30"});
  ASSERT_TRUE(p.started()) << p.spawn_error();
  EXPECT_GT(p.pid(), 0);
  EXPECT_TRUE(p.running());
  EXPECT_FALSE(p.wait(50).has_value());  // still sleeping
  EXPECT_TRUE(p.kill(SIGTERM));
  auto status = p.wait(5000);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->signaled);
  EXPECT_EQ(status->signal, SIGTERM);
  EXPECT_FALSE(status->success());
  EXPECT_FALSE(p.running());
  EXPECT_FALSE(p.kill(SIGTERM));       // reaped: never signal a recycled pid
  EXPECT_TRUE(p.wait(0).has_value());  // the status stays
}

TEST(Process, ExitCodeAndPathLookup) {
  Process p = Process::spawn("sh", {"-c", "exit 3"});
  ASSERT_TRUE(p.started()) << p.spawn_error();
  auto status = p.wait(5000);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 3);
  EXPECT_EQ(status->describe(), "exit code 3");
}

TEST(Process, LogsStdoutAndStderrWithEnvAndWorkingDir) {
  TempDir dir;
  SpawnOptions o;
  o.program = "/bin/sh";
  o.args = {"-c", "echo out $BETCORE_TEST_VAR; echo err >&2; pwd"};
  o.env = {{"BETCORE_TEST_VAR", "42"}};
  o.log_path = (dir / "child.log").string();
  o.working_dir = dir.path().string();
  Process p = Process::spawn(o);
  ASSERT_TRUE(p.started()) << p.spawn_error();
  ASSERT_TRUE(p.wait(5000).value_or(ExitStatus{}).success());
  std::string log = p.read_log();
  EXPECT_NE(log.find("out 42\n"), std::string::npos) << log;
  EXPECT_NE(log.find("err\n"), std::string::npos) << log;
  EXPECT_NE(log.find(dir.path().string()), std::string::npos) << log;
}

TEST(Process, ReadsStdinFromAFileOrFromDevNull) {
  TempDir dir;
  const std::string input = (dir / "input").string();
  {
    std::ofstream out(input, std::ios::binary);
    out << "line one\nline two\n";
  }
  SpawnOptions o;
  o.program = "/bin/cat";
  o.stdin_path = input;
  o.log_path = (dir / "cat.log").string();
  Process p = Process::spawn(o);
  ASSERT_TRUE(p.started()) << p.spawn_error();
  ASSERT_TRUE(p.wait(5000).value_or(ExitStatus{}).success());
  EXPECT_EQ(p.read_log(), "line one\nline two\n");

  o.stdin_path.clear();  // the default: an empty stdin, never the test's own
  o.log_path = (dir / "empty.log").string();
  Process q = Process::spawn(o);
  ASSERT_TRUE(q.started()) << q.spawn_error();
  ASSERT_TRUE(q.wait(5000).value_or(ExitStatus{}).success());
  EXPECT_EQ(q.read_log(), "");

  o.stdin_path = (dir / "missing").string();
  Process r = Process::spawn(o);
  EXPECT_FALSE(r.started());
  EXPECT_NE(r.spawn_error().find("cannot open stdin"), std::string::npos) << r.spawn_error();
}

TEST(Process, MissingProgramIsAnError) {
  Process p = Process::spawn("/nonexistent/betcore");
  EXPECT_FALSE(p.started());
  EXPECT_NE(p.spawn_error().find("No such file"), std::string::npos) << p.spawn_error();
  EXPECT_FALSE(p.kill(SIGKILL));
  EXPECT_FALSE(p.wait(0).has_value());
}

TEST(Process, DestructorKillsAndReaps) {
  pid_t pid;
  {
    Process p = Process::spawn("/bin/sleep", {"30"});
    ASSERT_TRUE(p.started());
    pid = p.pid();
    Process moved = std::move(p);  // the moved-from one must not kill it
    EXPECT_FALSE(p.started());
    EXPECT_TRUE(moved.running());
  }
  // Reaped: the pid no longer names our child (no zombie left).
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(Process, StopEscalatesToSigkill) {
  // A child that ignores SIGTERM (an ignored signal stays ignored across exec).
  Process p = Process::spawn("/bin/sh", {"-c", "trap '' TERM; exec sleep 30"});
  ASSERT_TRUE(p.started());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the trap be set
  auto start = std::chrono::steady_clock::now();
  ExitStatus s = p.stop(200);
  EXPECT_TRUE(s.signaled);
  EXPECT_EQ(s.signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(Process, StoppedProcessCanBeContinuedAndKilled) {
  Process p = Process::spawn("/bin/sleep", {"30"});
  ASSERT_TRUE(p.started());
  EXPECT_TRUE(p.kill(SIGSTOP));
  EXPECT_FALSE(p.wait(50).has_value());
  EXPECT_TRUE(p.kill(SIGCONT));
  ExitStatus s = p.stop(2000);
  EXPECT_TRUE(s.signaled);
}

}  // namespace
}  // namespace betcore::test

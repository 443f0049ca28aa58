package roadpulse.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;

/**
 * Runs a Flink SQL script (CREATE TABLE ...; INSERT INTO ...) in a local mini-cluster with the
 * given parallelism and prints how long the INSERT took, for bench/flink/flink_vs_roadpulse.sh:
 *
 * <pre>
 *   job_ms=N      submit -> done (planning, mini-cluster start, the job)
 *   runtime_ms=N  the job's own net runtime as Flink reports it
 * </pre>
 *
 * Usage: FlinkSqlBench SCRIPT PARALLELISM
 */
public final class FlinkSqlBench {
  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: FlinkSqlBench SCRIPT PARALLELISM");
      System.exit(2);
    }
    final String script = Files.readString(Path.of(args[0]));
    final int parallelism = Integer.parseInt(args[1]);

    Configuration conf = new Configuration();
    conf.setString("parallelism.default", Integer.toString(parallelism));
    conf.setString("execution.runtime-mode", "STREAMING");
    TableEnvironment env =
        TableEnvironment.create(
            EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());

    List<String> inserts = new ArrayList<>();
    for (String statement : split(script)) {
      if (statement.regionMatches(true, 0, "INSERT", 0, 6)) {
        inserts.add(statement);
      } else {
        env.executeSql(statement);
      }
    }
    if (inserts.size() != 1) throw new IllegalArgumentException("expected one INSERT, got " + inserts.size());

    final long started = System.nanoTime();
    TableResult result = env.executeSql(inserts.get(0));
    result.await();
    final long jobMs = (System.nanoTime() - started) / 1_000_000;
    JobExecutionResult done =
        result.getJobClient().orElseThrow().getJobExecutionResult().get();
    System.out.println("job_ms=" + jobMs);
    System.out.println("runtime_ms=" + done.getNetRuntime());
  }

  // Statements end with ';' outside quotes; '--' comments are dropped.
  private static List<String> split(String script) {
    List<String> out = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    boolean quoted = false;
    boolean backticked = false;
    for (int i = 0; i < script.length(); ++i) {
      char c = script.charAt(i);
      if (!quoted && !backticked && c == '-' && i + 1 < script.length() && script.charAt(i + 1) == '-') {
        while (i < script.length() && script.charAt(i) != '\n') ++i;
        continue;
      }
      if (c == '\'' && !backticked) quoted = !quoted;
      if (c == '`' && !quoted) backticked = !backticked;
      if (c == ';' && !quoted && !backticked) {
        if (!current.toString().isBlank()) out.add(current.toString().trim());
        current.setLength(0);
      } else {
        current.append(c);
      }
    }
    if (!current.toString().isBlank()) out.add(current.toString().trim());
    return out;
  }
}

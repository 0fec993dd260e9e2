// The readiness check of hack/servers/cassandra.sh: a real CQL query through the Java
// driver that ships in cassandra-all's dependencies (so no Python or Node is needed).
//   java -cp "lib/*:probe" CqlProbe HOST PORT TIMEOUT_SECONDS [SERVER_PID]
// Started together with the server: it loads the driver while the server starts, waits
// for the CQL port, then retries `SELECT ... FROM system.local` until it answers, prints
// "<release_version> <data_center>" and exits 0. Exits 1 on timeout or when the server
// process (SERVER_PID) has died.
import com.datastax.driver.core.Cluster;
import com.datastax.driver.core.QueryOptions;
import com.datastax.driver.core.Row;
import com.datastax.driver.core.Session;
import com.datastax.driver.core.SocketOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;

public final class CqlProbe {
  private static Cluster cluster(InetSocketAddress address) {
    return Cluster.builder()
        .addContactPointsWithPorts(address)
        .withoutJMXReporting()
        .withoutMetrics()
        // One query to answer: no schema or token metadata to fetch first.
        .withQueryOptions(new QueryOptions().setMetadataEnabled(false))
        .withSocketOptions(new SocketOptions().setConnectTimeoutMillis(2000).setReadTimeoutMillis(5000))
        .build();
  }

  private static boolean accepts(InetSocketAddress address) {
    try (Socket socket = new Socket()) {
      socket.connect(address, 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  public static void main(String[] args) throws InterruptedException {
    InetSocketAddress address = new InetSocketAddress(args[0], Integer.parseInt(args[1]));
    long deadline = System.nanoTime() + Long.parseLong(args[2]) * 1_000_000_000L;
    Long serverPid = args.length > 3 ? Long.valueOf(args[3]) : null;
    String lastError = "the port never opened";
    Cluster cluster = cluster(address);
    while (System.nanoTime() < deadline) {
      if (serverPid != null && ProcessHandle.of(serverPid).map(p -> !p.isAlive()).orElse(true)) {
        System.err.println("the Cassandra process " + serverPid + " has exited");
        System.exit(1);
      }
      if (accepts(address)) {
        try (Session session = cluster.connect()) {
          Row row = session.execute("SELECT release_version, data_center FROM system.local").one();
          System.out.println(row.getString("release_version") + " " + row.getString("data_center"));
          System.out.flush();
          // Not cluster.close(): its graceful Netty shutdown alone takes two seconds.
          Runtime.getRuntime().halt(0);
        } catch (RuntimeException e) {
          lastError = e.toString();
          cluster.close();
          cluster = cluster(address);
        }
      }
      Thread.sleep(100);
    }
    System.err.println("no answer from " + address + ": " + lastError);
    System.exit(1);
  }
}

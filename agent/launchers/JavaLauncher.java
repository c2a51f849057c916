// A warm JVM: started ahead of its job, it runs the program's jar once told to.
//
// Built at the image's build into java_launcher.jar (languages/java.toml) and
// run as `java [the run's flags] -jar java_launcher.jar <fd> <ready fd>`: the
// run's own command is `java [the same flags] -jar /work/build/main.jar [args]`.
// Its preparations done, it writes a byte down <ready fd> and closes it; it reads
// the program's argv (the jar and the request's args, NUL-separated) from <fd>
// until EOF, then runs the jar's Main-Class as `java -jar` would: the class
// path is the jar alone (the launcher's own classes are not visible to it),
// java.class.path and sun.java.command say what they would, main() runs on the
// main thread, and an exception out of it is reported by the JVM as `Exception
// in thread "main"` with exit status 1, its trace ending at the program's
// frames. An empty message (the agent discarding the warm start) exits. The
// one thing a program could tell: its jar's manifest opens java.io to
// reflection (Add-Opens), which the launcher needs to read its descriptor.
//
// Before it reads, it does what the program's first steps would otherwise pay
// for: the JDK's classes a program's first lines use loaded and initialised,
// System.out's write path run, and the bootstraps of string concatenation and
// lambdas linked once. Nothing of any job exists then; what it prepares is the
// JDK's, the same for every program.

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntUnaryOperator;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

public final class JavaLauncher {
    // What a program's first lines commonly use: loaded and initialised here.
    private static final String[] PRELOAD = {
        "java.io.BufferedReader", "java.io.InputStreamReader", "java.io.PrintWriter",
        "java.io.BufferedWriter", "java.io.OutputStreamWriter", "java.io.BufferedOutputStream",
        "java.io.DataInputStream", "java.io.StreamTokenizer",
        "java.util.Scanner", "java.util.StringTokenizer", "java.util.ArrayList",
        "java.util.HashMap", "java.util.HashSet", "java.util.TreeMap", "java.util.TreeSet",
        "java.util.ArrayDeque", "java.util.PriorityQueue", "java.util.LinkedList",
        "java.util.Arrays", "java.util.Collections", "java.util.stream.Collectors",
        "java.util.stream.IntStream", "java.util.regex.Pattern", "java.math.BigInteger",
        "java.math.BigDecimal", "java.lang.StringBuilder", "java.util.Locale",
        "java.util.Formatter",
    };

    private JavaLauncher() {}

    public static void main(String[] launcherArgs) throws Throwable {
        warmUp();
        if (launcherArgs.length > 1) {
            // The agent is told this one waits for its program now, its preparations done.
            try (FileOutputStream ready = new FileOutputStream(descriptor(Integer.parseInt(launcherArgs[1])))) {
                ready.write('r');
            }
        }
        String[] argv = readArgv(Integer.parseInt(launcherArgs[0]));
        if (argv.length == 0) {
            System.exit(0);
        }
        String jar = argv[0];
        String[] args = Arrays.copyOfRange(argv, 1, argv.length);
        Manifest manifest = manifest(jar);
        if (manifest == null) {
            // What `java -jar` says of a jar without a manifest, and its status.
            System.err.println("Error: Invalid or corrupt jarfile " + jar);
            System.exit(1);
        }
        String mainClass = manifest.getMainAttributes().getValue(Attributes.Name.MAIN_CLASS);
        if (mainClass == null) {
            // What `java -jar` says of a jar that names no class to run, and its status.
            System.err.println("no main manifest attribute, in " + jar);
            System.exit(1);
        }
        MethodHandle main;
        try {
            main = programMain(jar, mainClass);
        } catch (NoSuchMethodException | IllegalAccessException notRunnable) {
            // What `java -jar` says of a class it cannot run, and its status.
            System.err.println("Error: Main method not found in class " + mainClass
                    + ", please define the main method as:\n   public static void main(String[] args)\n"
                    + "or a JavaFX application class must extend javafx.application.Application");
            System.exit(1);
            return;
        }
        System.setProperty("java.class.path", jar);
        System.setProperty("sun.java.command", String.join(" ", argv));
        try {
            main.invokeExact(args);
        } catch (Throwable thrown) {
            cutLauncherFrames(thrown);
            throw thrown; // the JVM reports it as a program's own, exit status 1
        }
    }

    private static void warmUp() throws IOException {
        ClassLoader platform = ClassLoader.getPlatformClassLoader();
        for (String name : PRELOAD) {
            try {
                Class.forName(name, true, platform);
            } catch (ClassNotFoundException missing) {
                // a JDK without it: nothing to prepare
            }
        }
        System.out.print("");
        System.out.flush();
        System.err.print("");
        System.err.flush();
        String joined = "warm" + PRELOAD.length + ':' + 1.5; // links StringConcatFactory
        IntUnaryOperator twice = x -> x * 2; // links LambdaMetafactory
        List<Integer> numbers = new ArrayList<>(List.of(joined.length(), twice.applyAsInt(3)));
        numbers.sort(Integer::compare);
        String.format("%d %s %.2f", numbers.get(0), joined, 0.5);
        try (java.util.Scanner words = new java.util.Scanner("12 ab 3.5")) {
            words.nextInt();
            words.next();
            words.nextDouble();
        }
        // The jar-reading and class-defining paths: the launcher's own jar, read as a program's.
        try (JarFile self = new JarFile(
                Path.of(JavaLauncher.class.getProtectionDomain().getCodeSource().getLocation().getPath())
                        .toFile())) {
            self.getManifest();
        } catch (Exception ignored) {
            // only a warm-up
        }
    }

    private static FileDescriptor descriptor(int fd) throws ReflectiveOperationException {
        // A descriptor by its number: java.io's own field, opened to the launcher by
        // its jar's manifest (Add-Opens; /proc/self/fd is closed to a jailed
        // process). Closing a stream made on it closes the descriptor.
        FileDescriptor descriptor = new FileDescriptor();
        Field number = FileDescriptor.class.getDeclaredField("fd");
        number.setAccessible(true);
        number.setInt(descriptor, fd);
        return descriptor;
    }

    private static String[] readArgv(int fd) throws Exception {
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        try (InputStream in = new FileInputStream(descriptor(fd))) {
            in.transferTo(message);
        }
        if (message.size() == 0) {
            return new String[0];
        }
        return message.toString(StandardCharsets.UTF_8).split("\0", -1);
    }

    private static Manifest manifest(String jar) throws IOException {
        try (JarFile file = new JarFile(jar)) {
            return file.getManifest();
        }
    }

    private static MethodHandle programMain(String jar, String mainClass) throws Exception {
        URL url = Path.of(jar).toUri().toURL();
        ClassLoader loader = new URLClassLoader(new URL[] {url}, ClassLoader.getPlatformClassLoader());
        Thread.currentThread().setContextClassLoader(loader);
        // Not initialised here: its static initialiser runs as part of main's call,
        // so what it throws is reported as the program's.
        Class<?> program = Class.forName(mainClass, false, loader);
        return MethodHandles.publicLookup()
                .findStatic(program, "main", MethodType.methodType(void.class, String[].class));
    }

    // The frames a program's main() or static initialiser is called through from
    // here, which a JVM's own launcher (native code) does not have.
    private static final String[] CALLING = {
        "java.lang.invoke.", "jdk.internal.", "java.lang.ClassValue", "java.lang.Class",
    };

    private static boolean calling(StackTraceElement frame) {
        String name = frame.getClassName();
        if (name.equals(JavaLauncher.class.getName())) {
            return true;
        }
        for (String prefix : CALLING) {
            if (name.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    private static void cutLauncherFrames(Throwable thrown) {
        // From the bottom up: the launcher's frames and the calling machinery above
        // them, up to the program's own first frame (its main or <clinit>).
        for (Throwable t = thrown; t != null; t = t.getCause()) {
            StackTraceElement[] frames = t.getStackTrace();
            int end = frames.length;
            while (end > 0 && frames[end - 1].getClassName().equals(JavaLauncher.class.getName())) {
                end--;
                while (end > 0 && calling(frames[end - 1])) {
                    end--;
                }
            }
            if (end < frames.length) {
                t.setStackTrace(Arrays.copyOf(frames, end));
            }
        }
    }
}

package org.xenstorage.packaging;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.xenstorage.messageswitch.cli.MessageCli;
import org.xenstorage.smctl.SmctlCommands;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.codegen.docgen.manpage.ManPageGenerator;

/**
 * Writes the man pages (AsciiDoc, one page per command and sub-command, for asciidoctor's manpage backend) and
 * the bash completion scripts of {@code smctl} and {@code message-cli}, from the same picocli models the tools
 * parse their command lines with, so the pages cannot drift from the options.
 *
 * <p>Usage: {@code CliDocs OUTDIR}; writes {@code OUTDIR/man/*.adoc} and {@code OUTDIR/completion/<tool>}.
 */
public final class CliDocs {

    private CliDocs() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            throw new IllegalArgumentException("usage: CliDocs OUTDIR");
        }
        Path out = Path.of(args[0]);
        Path man = Files.createDirectories(out.resolve("man"));
        Path completion = Files.createDirectories(out.resolve("completion"));
        CommandLine smctl = SmctlCommands.commandLine();
        CommandLine messageCli = new CommandLine(new MessageCli());
        int status = ManPageGenerator.generateManPage(man.toFile(), (File) null, new boolean[0], true,
                smctl.getCommandSpec(), messageCli.getCommandSpec());
        if (status != 0) {
            throw new IOException("ManPageGenerator failed with status " + status);
        }
        write(completion.resolve("smctl"), AutoComplete.bash("smctl", smctl));
        write(completion.resolve("message-cli"), AutoComplete.bash("message-cli", messageCli));
    }

    private static void write(Path file, String text) throws IOException {
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }
}
